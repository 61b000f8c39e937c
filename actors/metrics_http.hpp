#pragma once
// The metrics HTTP endpoint: GET /metrics for Prometheus scrapers, by prometheus-cpp's exposer.
//
// Owned by the metrics actor: started when metrics.http_listen is set, closed
// at drain or exit. The exposer (civetweb) answers on its own threads and
// collects the exposition's registry (actors/prometheus_exposition.hpp) at
// each scrape, so a scraper never waits on the actor nor the actor on it.

#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Collectable;
class Exposer;
} // namespace prometheus

namespace tenantrt {

/// GET /metrics on a loopback address, or nothing.
class metrics_http {
public:
  metrics_http();
  /// Closes the endpoint (stop()).
  ~metrics_http();

  metrics_http(const metrics_http&) = delete;
  metrics_http& operator=(const metrics_http&) = delete;

  /// Serves GET /metrics on a loopback "host:port" until stop(), collecting
  /// `collectable` at each request; returns false and sets *error when the
  /// address is not loopback or cannot be bound.
  bool serve(const std::string& address,
             const std::shared_ptr<prometheus::Collectable>& collectable, std::string* error);

  /// Ports the HTTP endpoint listens on (empty when not serving).
  std::vector<int> listening_ports() const;

  /// Closes the HTTP endpoint and joins its threads. Idempotent. May block
  /// up to 2 s: civetweb's listener polls in 2 s quanta and its stop waits
  /// for that thread; it happens once, at drain or exit.
  void stop();

private:
  std::unique_ptr<prometheus::Exposer> exposer_;
};

} // namespace tenantrt
