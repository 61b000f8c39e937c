// tenantrt-caf-example: a CAF service embedding tenantrt in its own actor
// system and talking to the registry through its typed handle
// (tenantrt::registry_actor, actors/protocol.hpp).
//
//   tenantrt-caf-example --config config/examples/dev.json [--tenant org42]

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/protocol.hpp"
#include "config/config_loader.hpp"
#include "actors/runtime_access.hpp"
#include "runtime/runtime.hpp"

namespace {

/// A service actor: inserts an order for its tenant, then counts the orders.
caf::behavior order_service(caf::event_based_actor* self, tenantrt::registry_actor registry,
                            std::string tenant, caf::actor reporter) {
  auto insert = R"({"insert":"orders","documents":[{"item":"espresso","qty":2}]})";
  self->request(registry, std::chrono::seconds{30}, tenantrt::run_atom::value, tenant,
                std::string{insert})
    .then(
      [=](const std::string&) {
        self->request(registry, std::chrono::seconds{30}, tenantrt::run_atom::value, tenant,
                      std::string{R"({"count":"orders"})"})
          .then([=](const std::string& reply) { self->send(reporter, reply); },
                [=](caf::error& err) { self->send(reporter, "error: " + tenantrt::message_of(err)); });
      },
      [=](caf::error& err) {
        // Runtime failures carry a tenantrt::errc (tenant_limit_reached, ...).
        self->send(reporter, std::string{"error "}
                               + std::string{to_string(tenantrt::errc_of(err))} + ": "
                               + tenantrt::message_of(err));
      });
  return {};
}

} // namespace

int main(int argc, char** argv) {
  std::string config_path = "config/examples/dev.json";
  std::string tenant = "org42";
  CLI::App app{"tenantrt inside a CAF service"};
  app.add_option("--config", config_path, "tenantrt JSON config file")->check(CLI::ExistingFile);
  app.add_option("--tenant", tenant, "tenant id");
  CLI11_PARSE(app, argc, argv);

  tenantrt::runtime_config config;
  try {
    config = tenantrt::load_config(config_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tenantrt-caf-example: %s\n", e.what());
    return 2;
  }

  caf::actor_system_config system_config;
  caf::actor_system system{system_config};
  tenantrt::runtime rt{system, config};

  caf::scoped_actor reporter{system};
  system.spawn(order_service, tenantrt::runtime_access::registry(rt), tenant, caf::actor{reporter});
  int status = 1;
  reporter->receive([&](const std::string& line) {
    std::printf("%s: %s\n", tenant.c_str(), line.c_str());
    status = line.rfind("error", 0) == 0 ? 1 : 0;
  });
  rt.shutdown(std::chrono::seconds{5});
  return status;
}
