// The API's error answers: always {"error":{"code","message","field"}}.
//
// The ErrorCode -> HTTP status table is net::HttpStatusFromErrorCode — one table
// shared by the server and the client, so a status maps back to the same code:
//   not_found 404, invalid_argument 400, already_exists 409, aborted 409,
//   failed_precondition 412 (not 409: 409 already means "a concurrent write won,
//   re-read and retry"; 412 keeps "the state forbids it now" distinguishable),
//   unavailable 503, deadline_exceeded 504, resource_exhausted 413 (the API's only
//   limit is the body size; the edge's rate limiter answers 429 itself),
//   unauthenticated 401, permission_denied 403, internal 500.
// The API adds two refinements here: 401 carries `WWW-Authenticate: Bearer`
// (RFC 6750), and a watch from a compacted revision is 410 Gone (what
// Kubernetes answers for an expired resourceVersion) with code failed_precondition.
#pragma once

#include "common/result.h"
#include "net/http.h"

namespace skiff::api {

// The response for `error`, with the status of the shared table.
net::HttpResponse ErrorReply(const Error& error);
// 410 Gone with the error shape (code failed_precondition): re-list, then watch.
net::HttpResponse GoneReply(const Error& error);

}  // namespace skiff::api
