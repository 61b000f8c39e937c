// The command name must come first in the document the driver sees, whatever
// order nlohmann::json put the keys in.

#include "runtime/command_document.hpp"

#include <gtest/gtest.h>

namespace tenantrt {
namespace {

TEST(CommandDocument, OrderedJsonKeepsTheCallersOrder) {
  nlohmann::ordered_json command{{"find", "orders"}, {"filter", nlohmann::ordered_json::object()}};
  auto text = command_text(command);
  ASSERT_TRUE(text.text.has_value());
  EXPECT_EQ(*text.text, R"({"find":"orders","filter":{}})");
}

TEST(CommandDocument, SortedJsonGetsTheCommandNameMovedFirst) {
  auto command = R"({"find":"orders","filter":{"total":{"$gt":5}},"limit":3})"_json;
  ASSERT_EQ(command.begin().key(), "filter"); // what std::map ordering did
  auto text = command_text(command);
  ASSERT_TRUE(text.text.has_value()) << text.error;
  EXPECT_EQ(*text.text, R"({"find":"orders","filter":{"total":{"$gt":5}},"limit":3})");
}

TEST(CommandDocument, SingleKeyCommandsNeedNoKnownName) {
  auto text = command_text(R"({"someFutureCommand":1})"_json);
  ASSERT_TRUE(text.text.has_value());
  EXPECT_EQ(*text.text, R"({"someFutureCommand":1})");
}

TEST(CommandDocument, AmbiguousOrUnknownMultiKeyDocumentsAreRefusedWithAReason) {
  auto none = command_text(R"({"filter":{},"limit":1})"_json);
  EXPECT_FALSE(none.text.has_value());
  EXPECT_NE(none.error.find("ordered_json"), std::string::npos);
  auto two = command_text(R"({"find":"a","count":"b"})"_json);
  EXPECT_FALSE(two.text.has_value());
  EXPECT_NE(two.error.find("count"), std::string::npos);
}

TEST(CommandDocument, NonObjectsAndEmptyObjectsAreNotCommands) {
  EXPECT_FALSE(command_text(R"([1])"_json).text.has_value());
  EXPECT_FALSE(command_text(R"("ping")"_json).text.has_value());
  EXPECT_FALSE(command_text(nlohmann::json::object()).text.has_value());
  EXPECT_FALSE(command_text(nlohmann::ordered_json::object()).text.has_value());
}

TEST(CommandDocument, KnownNamesIncludeTheCrudCommands) {
  for (auto name : {"find", "insert", "update", "delete", "count", "aggregate", "findAndModify"})
    EXPECT_TRUE(is_known_command_name(name)) << name;
  EXPECT_FALSE(is_known_command_name("filter"));
}

} // namespace
} // namespace tenantrt
