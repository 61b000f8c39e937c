#include "config/config_loader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "config/json_io.hpp"

namespace tenantrt {

namespace {

std::string describe(const problem_list& problems, const std::string& source) {
  std::string text;
  for (const auto& problem : problems) {
    if (!text.empty())
      text += '\n';
    if (!source.empty())
      text += source + ": ";
    if (!problem.path.empty())
      text += problem.path + ": ";
    text += problem.reason;
  }
  return text.empty() ? "invalid configuration" : text;
}

} // namespace

config_error::config_error(std::vector<config_problem> problems, std::string source) :
  std::runtime_error(describe(problems, source)),
  problems_(std::move(problems)),
  source_(std::move(source)) {}

std::optional<std::string> process_environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr)
    return std::nullopt;
  return std::string{value};
}

runtime_config parse_config(const std::string& json_text, const environment_lookup& env) {
  problem_list problems;
  auto document = parse_document(json_text, problems);
  if (!document)
    throw config_error(std::move(problems));
  runtime_config cfg;
  if (document->is_object())
    read_config(*document, cfg, problems);
  else
    problems.push_back(
      {"", "the configuration must be a JSON object, got " + describe_type(*document)});
  auto overrides = apply_environment(cfg, env);
  auto unreadable = problems;
  for (auto& problem : validate(cfg)) {
    auto echoes = std::any_of(unreadable.begin(), unreadable.end(), [&](const config_problem& p) {
      return !p.path.empty() && is_under(problem.path, p.path);
    });
    if (echoes)
      continue;
    for (const auto& [path, variable] : overrides)
      if (problem.path == path)
        problem.reason += " (value from environment variable " + variable + ")";
    problems.push_back(std::move(problem));
  }
  if (!problems.empty())
    throw config_error(std::move(problems));
  return cfg;
}

runtime_config load_config(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored))
    throw config_error({{"", "cannot read the configuration file: it is a directory"}}, path);
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw config_error(
      {{"", "cannot read the configuration file: " + std::generic_category().message(errno)}},
      path);
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad())
    throw config_error({{"", "cannot read the configuration file: read error"}}, path);
  try {
    return parse_config(text.str(), process_environment);
  } catch (const config_error& error) {
    throw config_error(error.problems(), path);
  }
}

} // namespace tenantrt
