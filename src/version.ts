// The router's version, from package.json (one place to bump it).
import pkg from "../package.json" with { type: "json" };

export const version: string = pkg.version;
