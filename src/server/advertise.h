// The address a server advertises in the servers' list (GET /v1/servers,
// store/leader_lease.h ServerInfo): where other servers and clients reach its
// API. --advertise when given; otherwise derived from --listen, which is only
// usable when it names a specific address: 0.0.0.0 or :: (every address)
// tells another machine nothing.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace skiff::server {

// Whether a listen host binds every address of the machine: "" (":7070"),
// 0.0.0.0 or ::.
bool BindsEveryAddress(const std::string& host);

// Checks, before anything starts, that an address can be advertised:
// kInvalidArgument (field "advertise"), naming --advertise, when `advertise`
// is empty, `listen` ("host:port", already valid) binds every address and the
// store is shared by several servers (`shared`: PostgreSQL), or when the API
// serves HTTPS (`tls`) and `advertise` is an http:// URL (agents, edges and
// other servers would send their credentials there in clear, and find no
// plain HTTP). With a store one server owns, the host name stands in
// (AdvertisedUrl).
Status CheckAdvertise(const std::string& advertise, const std::string& listen, bool shared,
                      bool tls);

// The URL to advertise: `advertise` when set, else http:// (https:// with
// `tls`) and the host of `listen` with the bound `port`, or `host_name` in
// place of an address that binds every address. REQUIRES: `listen` is valid.
std::string AdvertisedUrl(const std::string& advertise, const std::string& listen, uint16_t port,
                          const std::string& host_name, bool tls = false);

}  // namespace skiff::server
