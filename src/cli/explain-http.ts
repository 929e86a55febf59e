// The HTTP branch of `explain`: decide on the host and on what it resolves to.
import type { Env } from "../config/read-setting.ts";

export function explainHttp(
  _text: string | undefined,
  query: string,
  _env: Env,
): Promise<string[]> {
  return Promise.reject(
    new Error(
      `http-proxy: Cannot explain "${query}": the HTTP policy engine is not part of this build`,
    ),
  );
}
