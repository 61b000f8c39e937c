#pragma once
// Reading a configuration in a test: parse_config() without the process
// environment, the problems it throws, and assertions on problems and on
// text (tests/config/*_test.cpp).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "config/config_loader.hpp"

namespace tenantrt::config_testing {

inline ::testing::AssertionResult contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << part << "\" not in: " << text;
}

inline ::testing::AssertionResult lacks(const std::string& text, std::string_view part) {
  if (text.find(part) == std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << part << "\" leaked in: " << text;
}

/// No variable set: tests never read the real environment.
inline std::optional<std::string> no_environment(const char*) { return std::nullopt; }

/// An environment holding only variables.
inline environment_lookup environment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const char* name) -> std::optional<std::string> {
    auto found = variables.find(name);
    if (found == variables.end())
      return std::nullopt;
    return found->second;
  };
}

/// parse_config(text) without the environment; throws config_error.
inline runtime_config parse(const std::string& text) { return parse_config(text, no_environment); }

/// The problems parse_config() throws for text (empty when it parses).
inline std::vector<config_problem> problems_of(const std::string& text,
                                               const environment_lookup& env = no_environment) {
  try {
    parse_config(text, env);
  } catch (const config_error& error) {
    return error.problems();
  }
  return {};
}

/// One problem per line, for a failure message.
inline std::string listed(const std::vector<config_problem>& problems) {
  std::string text;
  for (const auto& p : problems)
    text += "  " + p.path + ": " + p.reason + "\n";
  return text;
}

/// Exactly one problem, at path, whose reason contains part.
inline void expect_single_problem(const std::vector<config_problem>& problems,
                                  const std::string& path, std::string_view part) {
  ASSERT_EQ(problems.size(), 1u) << listed(problems);
  EXPECT_EQ(problems[0].path, path);
  EXPECT_TRUE(contains(problems[0].reason, part));
}

/// Exactly one problem from validate(cfg), at path, whose reason contains part.
inline void expect_single_problem(const runtime_config& cfg, const std::string& path,
                                  std::string_view part) {
  expect_single_problem(validate(cfg), path, part);
}

} // namespace tenantrt::config_testing
