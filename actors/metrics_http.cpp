// The metrics HTTP endpoint: prometheus-cpp's exposer bound to a loopback address.
#include "actors/metrics_http.hpp"

#include <exception>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include "config/listen_address.hpp"

namespace tenantrt {

metrics_http::metrics_http() = default;

metrics_http::~metrics_http() { stop(); }

bool metrics_http::serve(const std::string& address,
                         const std::shared_ptr<prometheus::Collectable>& collectable,
                         std::string* error) {
  // The loader refuses anything else; an embedder's config may skip it.
  auto parsed = parse_listen_address(address);
  if (!parsed.address || parsed.address->type != listen_address::kind::tcp
      || !parsed.address->loopback) {
    *error = "metrics.http_listen '" + address + "' is not a loopback host:port";
    return false;
  }
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
    exposer_->RegisterCollectable(collectable);
    return true;
  } catch (const std::exception& ex) {
    exposer_.reset();
    *error = "cannot serve metrics on " + address + ": " + ex.what();
    return false;
  }
}

std::vector<int> metrics_http::listening_ports() const {
  return exposer_ ? exposer_->GetListeningPorts() : std::vector<int>{};
}

void metrics_http::stop() { exposer_.reset(); }

} // namespace tenantrt
