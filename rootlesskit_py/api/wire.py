"""HTTP/1.1 facts the API's server and client share, so both read and word the wire alike."""

# the bytes of a header name (RFC 9110's token)
HTTP_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

# Go's http.StatusText for the statuses the API answers or may meet
STATUS_TEXT = {100: "Continue", 200: "OK", 201: "Created", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
               405: "Method Not Allowed", 408: "Request Timeout", 413: "Request Entity Too Large",
               431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
               503: "Service Unavailable", 505: "HTTP Version Not Supported"}
