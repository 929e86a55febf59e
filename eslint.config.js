// @ts-check
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["eslint.config.js", "node_modules/**", "test-output/**", "**/*.golden.*"] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "TSEnumDeclaration",
          message: "Use a string-literal union (erasable syntax only).",
        },
      ],
    },
  },
  {
    // Tests drive real sockets and processes; node:test's describe/it return promises by design.
    files: ["**/*.test.ts", "test/**/*.ts"],
    rules: { "@typescript-eslint/no-floating-promises": "off" },
  },
);
