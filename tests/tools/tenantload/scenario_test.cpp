// tenantload's scenario parser: every rule rejects with the JSON path and the
// reason, and a valid file fills every field.

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tools/tenantload/scenario.hpp"

namespace tenantrt::load {
namespace {

/// The problems of a document that must fail, as "path: reason" lines.
std::string problems_of(const std::string& text) {
  try {
    parse_scenario(text);
  } catch (const scenario_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

const char* load_phase = R"({"name": "load", "duration_s": 2, "tenants": 3,
  "concurrency": 2, "rate": 10, "mix": {"ping": 1}})";

std::string with_phase(const std::string& phase) {
  return R"({"phases": [)" + phase + "]}";
}

TEST(TenantloadScenarioTest, ParsesEveryField) {
  auto s = parse_scenario(R"({
    "name": "steady", "description": "d", "tenant_prefix": "org",
    "tenantrt": {"registry": {"max_tenant_connections": 7}},
    "phases": [
      {"name": "load", "duration_s": 1.5, "tenants": 200,
       "distribution": {"type": "zipf", "exponent": 1.1}, "concurrency": 16, "rate": 800,
       "mix": {"ping": 1, "find": 2, "insert": 0.5, "update": 0}, "think_ms": 3},
      {"name": "idle", "duration_s": 10, "concurrency": 0}
    ]})");
  EXPECT_EQ(s.name, "steady");
  EXPECT_EQ(s.tenant_prefix, "org");
  EXPECT_EQ(s.tenantrt.registry.max_tenant_connections, 7u);
  EXPECT_EQ(s.tenantrt_source, "inline");
  ASSERT_EQ(s.phases.size(), 2u);
  auto& p = s.phases[0];
  EXPECT_DOUBLE_EQ(p.duration_s, 1.5);
  EXPECT_EQ(p.tenants, 200u);
  EXPECT_EQ(p.tenant_distribution.kind, distribution_kind::zipf);
  EXPECT_DOUBLE_EQ(p.tenant_distribution.exponent, 1.1);
  EXPECT_EQ(p.concurrency, 16u);
  EXPECT_DOUBLE_EQ(p.rate, 800);
  EXPECT_DOUBLE_EQ(p.mix[static_cast<size_t>(operation::find)], 2);
  EXPECT_DOUBLE_EQ(p.mix[static_cast<size_t>(operation::insert)], 0.5);
  EXPECT_DOUBLE_EQ(p.think_ms, 3);
  EXPECT_TRUE(s.phases[1].idle());
}

TEST(TenantloadScenarioTest, DefaultsWithoutTenantrtConfigAreTight) {
  auto s = parse_scenario(with_phase(load_phase), ".", "fallback");
  EXPECT_EQ(s.name, "fallback");
  EXPECT_EQ(s.tenantrt_source, "built-in defaults");
  EXPECT_LE(s.tenantrt.registry.idle_timeout_ms, 10000u);
  EXPECT_TRUE(s.tenantrt.metrics.http_listen.empty());
  EXPECT_EQ(s.phases[0].tenant_distribution.kind, distribution_kind::uniform);
}

TEST(TenantloadScenarioTest, RejectsMalformedJson) {
  EXPECT_NE(problems_of("{\"phases\": [").find("malformed JSON"), std::string::npos);
}

TEST(TenantloadScenarioTest, RejectsNonObjectAndMissingPhases) {
  EXPECT_NE(problems_of("[1]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(problems_of("{}").find("phases: missing"), std::string::npos);
  EXPECT_NE(problems_of(R"({"phases": []})").find("phases: must hold at least one phase"),
            std::string::npos);
  EXPECT_NE(problems_of(R"({"phases": {}})").find("phases: expected an array"),
            std::string::npos);
}

TEST(TenantloadScenarioTest, RejectsUnknownKeysWithTheirPath) {
  auto text = problems_of(R"({"nmae": "x", "phases": [{"name": "a", "duration_s": 1,
    "tenants": 1, "concurrency": 1, "mix": {"ping": 1, "delete": 1}, "rats": 5}]})");
  EXPECT_NE(text.find("nmae: unknown key"), std::string::npos) << text;
  EXPECT_NE(text.find("phases[0].rats: unknown key"), std::string::npos) << text;
  EXPECT_NE(text.find("phases[0].mix.delete: unknown key"), std::string::npos) << text;
}

TEST(TenantloadScenarioTest, RejectsWrongTypes) {
  auto text = problems_of(with_phase(R"({"name": 3, "duration_s": "10", "tenants": 1.5,
    "concurrency": true, "mix": {"ping": "1"}, "rate": null})"));
  EXPECT_NE(text.find("phases[0].name: expected a string, got integer 3"), std::string::npos)
    << text;
  EXPECT_NE(text.find("phases[0].duration_s: expected a number, got string \"10\""),
            std::string::npos)
    << text;
  EXPECT_NE(text.find("phases[0].tenants: expected an unsigned integer, got number 1.5"),
            std::string::npos)
    << text;
  EXPECT_NE(text.find("phases[0].concurrency: expected an unsigned integer, got boolean"),
            std::string::npos)
    << text;
  EXPECT_NE(text.find("phases[0].mix.ping: expected a number"), std::string::npos) << text;
  EXPECT_NE(text.find("phases[0].rate: expected a number, got null"), std::string::npos) << text;
}

TEST(TenantloadScenarioTest, RejectsNegativeAndZeroValues) {
  auto text = problems_of(with_phase(R"({"name": "a", "duration_s": 0, "tenants": -2,
    "concurrency": -1, "rate": -5, "think_ms": -1, "mix": {"ping": -1, "find": 1}})"));
  EXPECT_NE(text.find("phases[0].duration_s: must be greater than 0"), std::string::npos) << text;
  EXPECT_NE(text.find("phases[0].tenants: must not be negative, got -2"), std::string::npos)
    << text;
  EXPECT_NE(text.find("phases[0].concurrency: must not be negative"), std::string::npos) << text;
  EXPECT_NE(text.find("phases[0].rate: must not be negative"), std::string::npos) << text;
  EXPECT_NE(text.find("phases[0].think_ms: must not be negative"), std::string::npos) << text;
  EXPECT_NE(text.find("phases[0].mix.ping: must not be negative"), std::string::npos) << text;
}

TEST(TenantloadScenarioTest, RejectsEmptyMix) {
  auto text = problems_of(with_phase(R"({"name": "a", "duration_s": 1, "tenants": 1,
    "concurrency": 1, "mix": {"ping": 0, "find": 0}})"));
  EXPECT_NE(text.find("phases[0].mix: empty mix"), std::string::npos) << text;
  text = problems_of(with_phase(R"({"name": "a", "duration_s": 1, "tenants": 1,
    "concurrency": 1, "mix": {}})"));
  EXPECT_NE(text.find("phases[0].mix: empty mix"), std::string::npos) << text;
}

TEST(TenantloadScenarioTest, RequiresLoadFieldsOnlyWhenNotIdle) {
  auto text = problems_of(with_phase(R"({"name": "a", "duration_s": 1, "concurrency": 4})"));
  EXPECT_NE(text.find("phases[0].tenants: missing"), std::string::npos) << text;
  EXPECT_NE(text.find("phases[0].mix: missing"), std::string::npos) << text;
  text = problems_of(with_phase(R"({"duration_s": 1})"));
  EXPECT_NE(text.find("phases[0].name: missing"), std::string::npos) << text;
  EXPECT_NE(text.find("phases[0].concurrency: missing"), std::string::npos) << text;
  text = problems_of(with_phase(R"({"name": "a", "duration_s": 1, "tenants": 0,
    "concurrency": 1, "mix": {"ping": 1}})"));
  EXPECT_NE(text.find("phases[0].tenants: must be at least 1 when concurrency > 0"),
            std::string::npos)
    << text;
  // An idle phase needs neither tenants nor mix, but a rate makes no sense.
  text = problems_of(
    with_phase(std::string{load_phase} + R"(, {"name": "b", "duration_s": 1, "concurrency": 0, "rate": 5})"));
  EXPECT_NE(text.find("phases[1].rate: an idle phase"), std::string::npos) << text;
}

TEST(TenantloadScenarioTest, RejectsOnlyIdlePhasesAndDuplicateNames) {
  auto text = problems_of(with_phase(R"({"name": "a", "duration_s": 1, "concurrency": 0})"));
  EXPECT_NE(text.find("phases: every phase is idle"), std::string::npos) << text;
  text = problems_of(with_phase(std::string{load_phase} + "," + load_phase));
  EXPECT_NE(text.find("phases[1].name: duplicate phase name \"load\""), std::string::npos)
    << text;
}

TEST(TenantloadScenarioTest, RejectsBadDistributions) {
  auto phase_with = [](const std::string& dist) {
    return with_phase(R"({"name": "a", "duration_s": 1, "tenants": 3, "concurrency": 1,
      "mix": {"ping": 1}, "distribution": )" + dist + "}");
  };
  EXPECT_NE(problems_of(phase_with(R"("pareto")")).find("unknown distribution \"pareto\""),
            std::string::npos);
  EXPECT_NE(problems_of(phase_with(R"("zipf")")).find("zipf needs an exponent"),
            std::string::npos);
  EXPECT_NE(problems_of(phase_with(R"({"type": "zipf"})"))
              .find("phases[0].distribution.exponent: missing"),
            std::string::npos);
  EXPECT_NE(problems_of(phase_with(R"({"type": "zipf", "exponent": 0})"))
              .find("phases[0].distribution.exponent: must be greater than 0"),
            std::string::npos);
  EXPECT_NE(problems_of(phase_with(R"({"type": "uniform", "exponent": 1})"))
              .find("only a zipf distribution has an exponent"),
            std::string::npos);
  EXPECT_NE(problems_of(phase_with("7")).find("phases[0].distribution: expected"),
            std::string::npos);
}

TEST(TenantloadScenarioTest, RejectsBadTopLevelStrings) {
  auto text = problems_of(R"({"name": "has space", "tenant_prefix": "a/b", "phases": [)"
                          + std::string{load_phase} + "]}");
  EXPECT_NE(text.find("name: must be 1 or more characters"), std::string::npos) << text;
  EXPECT_NE(text.find("tenant_prefix: must be 1 to 32 characters"), std::string::npos) << text;
}

TEST(TenantloadScenarioTest, ReportsTenantrtConfigProblemsUnderItsPath) {
  auto text = problems_of(R"({"tenantrt": {"registry": {"idle_timeout_mz": 1}}, "phases": [)"
                          + std::string{load_phase} + "]}");
  EXPECT_NE(text.find("tenantrt.registry.idle_timeout_mz: unknown key"), std::string::npos)
    << text;
  text = problems_of(R"({"tenantrt": 5, "phases": [)" + std::string{load_phase} + "]}");
  EXPECT_NE(text.find("tenantrt: expected a tenantrt config object or a path"), std::string::npos)
    << text;
  text = problems_of(R"({"tenantrt": "no-such-file.json", "phases": [)" + std::string{load_phase}
                     + "]}");
  EXPECT_NE(text.find("tenantrt: cannot read the config file"), std::string::npos) << text;
}

TEST(TenantloadScenarioTest, ReadsTenantrtConfigFromARelativePath) {
  auto dir = std::filesystem::temp_directory_path() / ("tenantload-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream{dir / "rt.json"} << R"({"registry": {"max_tenant_connections": 9}})";
  std::ofstream{dir / "my-run.json"} << R"({"tenantrt": "rt.json", "phases": [)" << load_phase
                                     << "]}";
  auto s = load_scenario((dir / "my-run.json").string());
  EXPECT_EQ(s.name, "my-run");
  EXPECT_EQ(s.tenantrt.registry.max_tenant_connections, 9u);
  std::filesystem::remove_all(dir);
}

TEST(TenantloadScenarioTest, LoadNamesTheFileInEveryProblem) {
  try {
    load_scenario("/nonexistent/steady.json");
    FAIL() << "accepted a missing file";
  } catch (const scenario_error& e) {
    EXPECT_EQ(std::string{e.what()}, "/nonexistent/steady.json: cannot read the scenario file");
  }
}

TEST(TenantloadScenarioTest, ShippedScenariosParse) {
  for (const char* name : {"smoke", "steady", "burst", "idle-reap", "many-tenants"}) {
    auto path = std::string{TENANTRT_SOURCE_DIR} + "/tools/scenarios/" + name + ".json";
    EXPECT_NO_THROW({
      auto s = load_scenario(path);
      EXPECT_EQ(s.name, name);
    }) << path;
  }
  auto steady = load_scenario(std::string{TENANTRT_SOURCE_DIR} + "/tools/scenarios/steady.json");
  EXPECT_EQ(steady.phases[0].tenants, 200u);
  EXPECT_EQ(steady.phases[0].concurrency, 16u);
  EXPECT_EQ(steady.phases[0].tenant_distribution.kind, distribution_kind::zipf);
  auto many = load_scenario(std::string{TENANTRT_SOURCE_DIR} + "/tools/scenarios/many-tenants.json");
  EXPECT_EQ(many.phases[0].tenants, 5000u);
}

TEST(TenantloadScenarioTest, ScalesDurations) {
  auto s = parse_scenario(with_phase(load_phase));
  scale_durations(s, 0.25);
  EXPECT_DOUBLE_EQ(s.phases[0].duration_s, 0.5);
}

} // namespace
} // namespace tenantrt::load
