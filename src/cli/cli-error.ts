/** A failure the user can fix, reported as one line on stderr with exit code 1. */
export class CliError extends Error {}
