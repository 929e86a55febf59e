// The lab's one error type, and the root check every lab action starts with.

/** An error whose message is the one line to show. */
export class LabError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LabError";
  }
}

export function requireRoot(action: string): void {
  if (process.getuid?.() !== 0) {
    throw new LabError(
      `lab: Cannot ${action}: not running as root; the lab creates network namespaces, run it as root (sudo)`,
    );
  }
}
