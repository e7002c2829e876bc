/** Thrown by deep code for bad user input; bin/opnas.ts prints the message and exits with `code`. */
export class OpnasError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
    this.name = 'OpnasError';
  }
}

/** A config or genome with several problems: every problem is listed, not just the first. */
export class ValidationError extends OpnasError {
  constructor(readonly what: string, readonly problems: string[]) {
    super(`${what}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n  - ${problems.join('\n  - ')}`);
    this.name = 'ValidationError';
  }
}
