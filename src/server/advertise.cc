#include "server/advertise.h"

#include <boost/asio/ip/address.hpp>

#include "net/host_port.h"

namespace skiff::server {
bool BindsEveryAddress(const std::string& host) {
  if (host.empty()) return true;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_unspecified();
}

Status CheckAdvertise(const std::string& advertise, const std::string& listen, bool shared,
                      bool tls) {
  if (tls && advertise.starts_with("http://")) {
    return InvalidArgument("--advertise " + advertise +
                               ": the API serves HTTPS (it listens off loopback, or --https), so "
                               "its URL is https://; give --advertise https://HOST:PORT, or "
                               "--insecure-http to serve plain HTTP (credentials in clear)",
                           "advertise");
  }
  if (!advertise.empty() || !shared) return OkStatus();
  auto parsed = net::ParseHostPort(listen, "listen address");
  if (!parsed) return tl::unexpected(parsed.error());
  if (!BindsEveryAddress(parsed->host)) return OkStatus();
  return InvalidArgument("--advertise: --listen " + listen +
                             " binds every address, which tells the other servers and clients "
                             "sharing the store nothing: give the URL they reach this server's "
                             "API at (--advertise https://HOST:PORT)",
                         "advertise");
}

std::string AdvertisedUrl(const std::string& advertise, const std::string& listen, uint16_t port,
                          const std::string& host_name, bool tls) {
  if (!advertise.empty()) return advertise;
  auto parsed = net::ParseHostPort(listen, "listen address");
  const std::string host = parsed && !BindsEveryAddress(parsed->host) ? parsed->host : host_name;
  return (tls ? "https://" : "http://") + net::JoinHostPort(host, port);
}

}  // namespace skiff::server
