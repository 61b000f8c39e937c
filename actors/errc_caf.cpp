// errc as caf::error: the definitions of make_error, errc_of, message_of and
// reply_of, declared beside errc in runtime/errc.hpp.
#include "runtime/errc.hpp"

#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "actors/protocol.hpp"

namespace tenantrt {

caf::error make_error(errc code, std::string message, std::string reply_json) {
  return caf::error{static_cast<uint8_t>(code), error_category_atom,
                    caf::make_message(std::move(message), std::move(reply_json))};
}

errc errc_of(const caf::error& err) {
  if (!err)
    return errc::none;
  if (err.category() == error_category_atom)
    return static_cast<errc>(err.code());
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
      case caf::sec::request_receiver_down:
        return errc::tenant_crashed;
      case caf::sec::request_timeout:
        return errc::timeout;
      default:
        break;
    }
  }
  return errc::internal;
}

std::string message_of(const caf::error& err) {
  if (err.category() == error_category_atom && err.context().match_element<std::string>(0))
    return err.context().get_as<std::string>(0);
  return caf::to_string(err);
}

std::string reply_of(const caf::error& err) {
  if (err.category() == error_category_atom && err.context().size() > 1
      && err.context().match_element<std::string>(1))
    return err.context().get_as<std::string>(1);
  return {};
}

} // namespace tenantrt
