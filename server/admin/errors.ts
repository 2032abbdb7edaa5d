/** An operator mistake the API answers with a 4xx and the CLI prints; `field` names what to fix. */
export class AdminError extends Error {
  constructor(
    readonly code: string,
    readonly status: 400 | 401 | 403 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}
