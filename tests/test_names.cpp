// ctest sees each Catch test case through catch_discover_tests, which passes the names to CMake
// as a list: a '[' or ']' in a name can swallow the ';' between names, and a ';' splits one. A
// name with any of them silently turns hundreds of cases into one ctest entry that runs none.
#include <catch2/catch.hpp>
#include <string>

TEST_CASE("no test case name holds a square bracket or a semicolon", "[meta]") {
  const auto& cases = Catch::getRegistryHub().getTestCaseRegistry().getAllTests();
  REQUIRE(cases.size() > 600);
  for (const Catch::TestCase& c : cases) {
    INFO(c.name);
    CHECK(c.name.find_first_of("[];") == std::string::npos);
  }
}
