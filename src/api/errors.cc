#include "api/errors.h"

namespace skiff::api {

net::HttpResponse ErrorReply(const Error& error) {
  net::HttpResponse response = net::ErrorResponse(error);
  if (response.status == 401) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"skiff\"");
  }
  return response;
}

net::HttpResponse GoneReply(const Error& error) {
  Error e = error;
  e.code = ErrorCode::kFailedPrecondition;
  net::HttpResponse response = net::ErrorResponse(e);
  response.status = 410;
  return response;
}

}  // namespace skiff::api
