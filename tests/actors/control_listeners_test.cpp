// The control socket's listeners without a broker: what bind_listeners binds,
// the errors it names, and which socket files a listener_set removes. What
// the broker does with them (serving, removal on exit, drain) is in
// control_server_test.cpp.

#include "actors/control_listeners.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <caf/error.hpp>
#include <caf/sec.hpp>

namespace tenantrt {
namespace {

struct ControlListenersTest : ::testing::Test {
  ControlListenersTest() {
    char dir_template[] = "/tmp/tenantrt_listeners_XXXXXX";
    dir = ::mkdtemp(dir_template);
    socket_path = dir + "/control.sock";
  }

  ~ControlListenersTest() override {
    ::unlink(socket_path.c_str());
    ::rmdir(dir.c_str());
  }

  static control_config listening_on(std::vector<std::string> listen) {
    control_config c;
    c.listen = std::move(listen);
    return c;
  }

  /// The error's text: its first context element, as tenantrtd logs it.
  static std::string text_of(const caf::error& err) {
    return err.context().match_element<std::string>(0) ? err.context().get_as<std::string>(0)
                                                       : std::string{"<no text>"};
  }

  /// Whether err is the system error want.
  static bool has_code(const caf::error& err, caf::sec want) {
    return err.category() == caf::atom("system") && err.code() == static_cast<uint8_t>(want);
  }

  bool exists(const std::string& path) const {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
  }

  std::string dir;
  std::string socket_path;
};

TEST_F(ControlListenersTest, ReportsThePortTheSystemPickedForPortZero) {
  auto bound = bind_listeners(listening_on({"127.0.0.1:0"}));
  ASSERT_TRUE(bound) << text_of(bound.error());
  ASSERT_EQ((*bound)->listeners.size(), 1u);
  auto& l = (*bound)->listeners[0];
  EXPECT_GE(l.fd, 0);
  EXPECT_NE(l.address.port, 0);
  EXPECT_TRUE(l.address.loopback);
  EXPECT_FALSE(l.has_file);
}

TEST_F(ControlListenersTest, UnixSocketFileIsMode0600AndRemovedWithTheSet) {
  {
    auto bound = bind_listeners(listening_on({"unix:" + socket_path}));
    ASSERT_TRUE(bound) << text_of(bound.error());
    struct stat st {};
    ASSERT_EQ(::lstat(socket_path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  EXPECT_FALSE(exists(socket_path));
}

TEST_F(ControlListenersTest, LeavesASocketFileThatIsNoLongerItsOwn) {
  auto bound = bind_listeners(listening_on({"unix:" + socket_path}));
  ASSERT_TRUE(bound) << text_of(bound.error());
  // Another process replaced the file meanwhile.
  ASSERT_EQ(::unlink(socket_path.c_str()), 0);
  ::close(::open(socket_path.c_str(), O_CREAT | O_WRONLY, 0600));
  (*bound)->remove_socket_files();
  EXPECT_TRUE(exists(socket_path));
}

TEST_F(ControlListenersTest, EntryErrorsAreInvalidArgumentAndNameTheEntry) {
  auto none = bind_listeners(listening_on({}));
  ASSERT_FALSE(none);
  EXPECT_TRUE(has_code(none.error(), caf::sec::invalid_argument));
  EXPECT_EQ(text_of(none.error()), "control.listen names no address");

  auto open = bind_listeners(listening_on({"127.0.0.1:0", "0.0.0.0:0"}));
  ASSERT_FALSE(open);
  EXPECT_TRUE(has_code(open.error(), caf::sec::invalid_argument));
  EXPECT_EQ(text_of(open.error()),
            "control.listen[1] \"0.0.0.0:0\": a non-loopback address needs control.token to be set");
}

TEST_F(ControlListenersTest, BindFailuresAreCannotOpenPortAndUndoEarlierEntries) {
  auto plain = dir + "/plain";
  ::close(::open(plain.c_str(), O_CREAT | O_WRONLY, 0600));
  auto refused = bind_listeners(listening_on({"unix:" + socket_path, "unix:" + plain}));
  ASSERT_FALSE(refused);
  EXPECT_TRUE(has_code(refused.error(), caf::sec::cannot_open_port));
  EXPECT_NE(text_of(refused.error()).find("control.listen[1]"), std::string::npos);
  EXPECT_NE(text_of(refused.error()).find("not a socket"), std::string::npos);
  EXPECT_FALSE(exists(socket_path)) << "the first entry's socket file was left behind";
  EXPECT_TRUE(exists(plain)) << "a regular file must never be replaced";
  ::unlink(plain.c_str());
}

} // namespace
} // namespace tenantrt
