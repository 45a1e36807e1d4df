// Errors as the OpenAI API returns them — {"error": {"message", "type", "param", "code"}} with the HTTP
// status the official clients map to their error classes (400 BadRequestError, 401
// AuthenticationError, 404 NotFoundError, 413, 429 RateLimitError, 503 InternalServerError).
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  /** The response body. */
  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 naming the request field that is wrong and what it should be. */
export function badField(param: string, value: unknown, expected: string): ApiError {
  const shown = JSON.stringify(value);
  return new ApiError(400, `${param}: ${shown === undefined ? 'missing' : shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}, expected ${expected}`, 'invalid_request_error', param);
}
