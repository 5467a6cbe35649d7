// The golden fixtures of the conv and pool families: every fixture case has a GOLDEN test
// (tests/core/test_conv.cpp, tests/core/test_pool.cpp) and every test a case; and the one fixture
// loader (tests/support/fixtures.h) reads the format and rejects malformed files.
#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/fixtures.h"
#include "support/golden_ops.h"
#include "tapegrad/core.h"

using tg::Tensor;
using tg_fixtures::Case;
using tg_golden_ops::kOps;
using tg_golden_ops::registered;

TEST_CASE("golden fixtures: every case has a test and every test a case", "[golden]") {
  std::set<std::pair<std::string, std::string>> in_files;
  for (const char* op : kOps) {
    const std::vector<Case> cases = tg_fixtures::load("golden", op);
    CHECK(cases.size() >= 5);
    for (const Case& c : cases) {
      INFO("fixture case without a GOLDEN(...) test: " << op << ": " << c.name << " (" << c.where << ")");
      CHECK(registered().count({op, c.name}) == 1);
      in_files.emplace(op, c.name);
    }
  }
  for (const auto& [op, name] : registered()) {
    INFO("GOLDEN(...) test without a fixture case: " << op << ": " << name);
    CHECK(in_files.count({op, name}) == 1);
  }
}

TEST_CASE("golden fixtures: the loader reads the format and rejects malformed files", "[golden]") {
  using tg_fixtures::FixtureError;
  auto parse = [](const std::string& text) {
    std::istringstream in(text);
    return tg_fixtures::parse_fixtures(in, "op", "test.txt");
  };

  SECTION("a well-formed file") {
    const std::vector<Case> cases = parse(
        "# comment\n\ncase first one\nparam stride 2 1\nparam groups 3\n"
        "tensor x 2 2 3\n1 2.5 -3\n4e-3 0.1 -0\nnone bias\ntensor s 0\n7\nend\n"
        "case second\r\ntensor e 2 0 4\nend\n");
    REQUIRE(cases.size() == 2);
    const Case& c = cases[0];
    CHECK(c.name == "first one");
    CHECK(c.where == "test.txt:3");
    CHECK(c.param("stride") == std::vector<std::int64_t>{2, 1});
    CHECK(c.param1("groups") == 3);
    CHECK(c.param_or("dilation", 1) == 1);
    CHECK(c.is_none("bias"));
    CHECK_FALSE(c.has_tensor("bias"));
    CHECK_FALSE(c.tensor_or_undefined("bias").defined());
    const Tensor x = c.tensor("x");
    CHECK(x.dtype() == tg::kFloat64);
    CHECK(x.shape().vec() == std::vector<std::int64_t>{2, 3});
    CHECK(x.to_vector<double>() == std::vector<double>{1, 2.5, -3, 4e-3, 0.1, -0.0});
    CHECK(c.tensor("x", tg::kFloat32).dtype() == tg::kFloat32);
    CHECK(c.tensor("s").dim() == 0);
    CHECK(c.tensor("s").item() == 7.0);
    CHECK(cases[1].name == "second");
    CHECK(cases[1].tensor("e").numel() == 0);
    CHECK_THROWS_WITH(c.param("padding"), Catch::Contains("has no param 'padding'"));
    CHECK_THROWS_WITH(c.param("stride", 1), Catch::Contains("has 2 values, expected 1"));
    CHECK_THROWS_WITH(c.tensor("y"), Catch::Contains("has no tensor 'y'"));
    CHECK_THROWS_WITH(c.tensor("bias"), Catch::Contains("is none"));
  }
  SECTION("malformed files name the line and the problem") {
    CHECK_THROWS_WITH(parse("param stride 1\n"), Catch::Contains("test.txt:1") && Catch::Contains("outside a case"));
    CHECK_THROWS_WITH(parse("case a\nbogus 1\nend\n"),
                      Catch::Contains("test.txt:2") && Catch::Contains("unknown directive 'bogus'"));
    CHECK_THROWS_WITH(parse("case a\ntensor x 2 2 2\n1 2 3\n"), Catch::Contains("ends early: file has 3 of its 4"));
    CHECK_THROWS_WITH(parse("case a\ntensor x 1 2\n1 2 3\nend\n"), Catch::Contains("more than its 2 values"));
    CHECK_THROWS_WITH(parse("case a\ntensor x 1 2\n1 zz\nend\n"),
                      Catch::Contains("test.txt:3") && Catch::Contains("not a number: 'zz'"));
    CHECK_THROWS_WITH(parse("case a\ntensor x 3 2 2\nend\n"), Catch::Contains("says ndim 3 but lists 2 dims"));
    CHECK_THROWS_WITH(parse("case a\nparam k 1.5\nend\n")[0].param1("k"), Catch::Contains("not an integer: '1.5'"));
    CHECK_THROWS_WITH(parse("case a\nend\ncase a\nend\n"), Catch::Contains("duplicate case name 'a'"));
    CHECK_THROWS_WITH(parse("case a\nnone b\nnone b\nend\n"), Catch::Contains("duplicate tensor 'b'"));
    CHECK_THROWS_WITH(parse("case a\nparam k 1\n"), Catch::Contains("case 'a' has no 'end'"));
    CHECK_THROWS_WITH(parse("case a\ncase b\nend\n"), Catch::Contains("'case' before the 'end' of case 'a'"));
    CHECK_THROWS_AS(parse("case\nend\n"), FixtureError);
  }
}
