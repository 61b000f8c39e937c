// The three modes without tenantrt, straight on mongo-c-driver 1.23: what a
// service does before it embeds tenantrt (naive, pool-per-tenant) and the
// raw driver's own cost (direct). Every mode converts the command from JSON
// text to BSON and the reply back to JSON, as the runtime does, so the
// comparison is of connection handling, not of serialisation.

#include <map>
#include <mutex>
#include <stdexcept>

#include <mongoc/mongoc.h>

#include "tools/tenantload/load_target.hpp"

namespace tenantrt::load {

namespace {

struct uri_deleter {
  void operator()(mongoc_uri_t* uri) const noexcept { mongoc_uri_destroy(uri); }
};
using uri_ptr = std::unique_ptr<mongoc_uri_t, uri_deleter>;

struct client_deleter {
  void operator()(mongoc_client_t* client) const noexcept { mongoc_client_destroy(client); }
};
using client_ptr = std::unique_ptr<mongoc_client_t, client_deleter>;

struct pool_deleter {
  void operator()(mongoc_client_pool_t* pool) const noexcept { mongoc_client_pool_destroy(pool); }
};
using pool_ptr = std::unique_ptr<mongoc_client_pool_t, pool_deleter>;

/// Owns a bson_t filled by the driver (reply) or built from JSON.
struct bson_holder {
  bson_t doc = BSON_INITIALIZER;
  ~bson_holder() { bson_destroy(&doc); }
};

uri_ptr driver_uri(const std::string& text, const driver_timeouts& t) {
  bson_error_t error;
  uri_ptr uri{mongoc_uri_new_with_error(text.c_str(), &error)};
  if (!uri)
    throw std::runtime_error(std::string{"the driver refuses the URI: "} + error.message);
  mongoc_uri_set_option_as_int32(uri.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                 static_cast<int32_t>(t.server_selection_timeout_ms));
  mongoc_uri_set_option_as_int32(uri.get(), MONGOC_URI_CONNECTTIMEOUTMS,
                                 static_cast<int32_t>(t.connect_timeout_ms));
  mongoc_uri_set_option_as_int32(uri.get(), MONGOC_URI_SOCKETTIMEOUTMS,
                                 static_cast<int32_t>(t.socket_timeout_ms));
  // Single-threaded clients only (pools ignore it): keep rescanning up to
  // the selection timeout instead of failing on the first refused connect.
  mongoc_uri_set_option_as_bool(uri.get(), MONGOC_URI_SERVERSELECTIONTRYONCE, false);
  mongoc_uri_set_appname(uri.get(), "tenantload");
  return uri;
}

/// Runs command on client; "" or the error's short name.
std::string run_on(mongoc_client_t* client, const std::string& tenant_id,
                   const nlohmann::ordered_json& command) {
  // tenantrt's default database_template, "tenant_{id}".
  std::string database = "tenant_" + tenant_id;
  auto text = command.dump();
  bson_error_t error;
  bson_holder cmd;
  if (!bson_init_from_json(&cmd.doc, text.data(), static_cast<ssize_t>(text.size()), &error))
    return "bad_command";
  bson_holder reply;
  bool ok = mongoc_client_command_simple(client, database.c_str(), &cmd.doc, nullptr, &reply.doc,
                                         &error);
  if (!ok)
    return driver_error_name(error.domain, error.code);
  size_t length = 0;
  char* json = bson_as_relaxed_extended_json(&reply.doc, &length);
  bson_free(json);
  bson_iter_t it;
  if (bson_iter_init_find(&it, &reply.doc, "writeErrors"))
    return "write_error";
  return {};
}

void set_error_api(mongoc_client_t* client) {
  mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
}

// -- naive: a client per operation ----------------------------------------------

class naive_target final : public load_target {
public:
  naive_target(const std::string& uri, driver_timeouts t) : uri_(driver_uri(uri, t)) {}

  std::unique_ptr<target_session> open_session() override {
    return std::make_unique<session>(uri_.get());
  }
  void stop() override {}

private:
  class session final : public target_session {
  public:
    explicit session(const mongoc_uri_t* uri) : uri_(uri) {}
    std::string run(const std::string& tenant_id, const nlohmann::ordered_json& command) override {
      bson_error_t error;
      client_ptr client{mongoc_client_new_from_uri_with_error(uri_, &error)};
      if (!client)
        return driver_error_name(error.domain, error.code);
      set_error_api(client.get());
      return run_on(client.get(), tenant_id, command);
    }

  private:
    const mongoc_uri_t* uri_;
  };

  uri_ptr uri_;
};

// -- pools: per tenant, or one shared -----------------------------------------------

pool_ptr new_pool(const mongoc_uri_t* uri) {
  bson_error_t error;
  pool_ptr pool{mongoc_client_pool_new_with_error(uri, &error)};
  if (!pool)
    throw std::runtime_error(std::string{"cannot create a client pool: "} + error.message);
  mongoc_client_pool_set_error_api(pool.get(), MONGOC_ERROR_API_VERSION_2);
  return pool;
}

std::string run_pooled(mongoc_client_pool_t* pool, const std::string& tenant_id,
                       const nlohmann::ordered_json& command) {
  mongoc_client_t* client = mongoc_client_pool_pop(pool);
  auto outcome = run_on(client, tenant_id, command);
  mongoc_client_pool_push(pool, client);
  return outcome;
}

class pool_per_tenant_target final : public load_target {
public:
  pool_per_tenant_target(const std::string& uri, driver_timeouts t) : uri_(driver_uri(uri, t)) {}

  std::unique_ptr<target_session> open_session() override {
    return std::make_unique<session>(*this);
  }
  void stop() override {
    std::lock_guard<std::mutex> guard{mutex_};
    pools_.clear();
  }

private:
  mongoc_client_pool_t* pool_of(const std::string& tenant_id) {
    std::lock_guard<std::mutex> guard{mutex_};
    auto& pool = pools_[tenant_id];
    if (!pool)
      pool = new_pool(uri_.get()); // cached for ever: the pattern under test
    return pool.get();
  }

  class session final : public target_session {
  public:
    explicit session(pool_per_tenant_target& owner) : owner_(owner) {}
    std::string run(const std::string& tenant_id, const nlohmann::ordered_json& command) override {
      return run_pooled(owner_.pool_of(tenant_id), tenant_id, command);
    }

  private:
    pool_per_tenant_target& owner_;
  };

  uri_ptr uri_;
  std::mutex mutex_;
  std::map<std::string, pool_ptr> pools_;
};

class direct_target final : public load_target {
public:
  direct_target(const std::string& uri, driver_timeouts t) :
    uri_(driver_uri(uri, t)),
    pool_(new_pool(uri_.get())) {}

  std::unique_ptr<target_session> open_session() override {
    return std::make_unique<session>(pool_.get());
  }
  void stop() override { pool_.reset(); }

private:
  class session final : public target_session {
  public:
    explicit session(mongoc_client_pool_t* pool) : pool_(pool) {}
    std::string run(const std::string& tenant_id, const nlohmann::ordered_json& command) override {
      return run_pooled(pool_, tenant_id, command);
    }

  private:
    mongoc_client_pool_t* pool_;
  };

  uri_ptr uri_;
  pool_ptr pool_;
};

} // namespace

std::string driver_error_name(uint32_t domain, uint32_t code) {
  switch (domain) {
    case MONGOC_ERROR_STREAM:
      if (code == MONGOC_ERROR_STREAM_SOCKET) return "stream_socket";
      if (code == MONGOC_ERROR_STREAM_CONNECT) return "stream_connect";
      if (code == MONGOC_ERROR_STREAM_NAME_RESOLUTION) return "stream_name_resolution";
      return "stream_" + std::to_string(code);
    case MONGOC_ERROR_SERVER_SELECTION:
      if (code == MONGOC_ERROR_SERVER_SELECTION_FAILURE) return "server_selection_failure";
      return "server_selection_" + std::to_string(code);
    case MONGOC_ERROR_SERVER: return "server_" + std::to_string(code);
    case MONGOC_ERROR_CLIENT: return "client_" + std::to_string(code);
    case MONGOC_ERROR_PROTOCOL: return "protocol_" + std::to_string(code);
    case MONGOC_ERROR_COMMAND: return "command_" + std::to_string(code);
    case MONGOC_ERROR_WRITE_CONCERN: return "write_concern_" + std::to_string(code);
    case MONGOC_ERROR_BSON: return "bson_" + std::to_string(code);
    default: return "driver_" + std::to_string(domain) + "_" + std::to_string(code);
  }
}

std::unique_ptr<load_target> make_naive_target(const std::string& uri, driver_timeouts timeouts) {
  return std::make_unique<naive_target>(uri, timeouts);
}

std::unique_ptr<load_target> make_pool_per_tenant_target(const std::string& uri,
                                                         driver_timeouts timeouts) {
  return std::make_unique<pool_per_tenant_target>(uri, timeouts);
}

std::unique_ptr<load_target> make_direct_target(const std::string& uri, driver_timeouts timeouts) {
  return std::make_unique<direct_target>(uri, timeouts);
}

} // namespace tenantrt::load
