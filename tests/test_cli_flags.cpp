#include <gtest/gtest.h>

#include "tests/cli_runner.h"
#include "tools/command.h"

TEST(CliFlags, ParsesDefaultsValuesAndRejectsUnknown) {
  vps::cli::Flags f("x", "test");
  f.opt("out", "o.txt", "output").opt("n", "3", "count").flag("fast", "go fast");
  ASSERT_TRUE(f.parse({"--n", "5", "--fast"}));
  EXPECT_EQ(f.get("out"), "o.txt");
  EXPECT_EQ(f.get_int("n", 0, 10), 5);
  EXPECT_THROW(f.get_int("n", 6, 10), vps::cli::UsageError);
  EXPECT_TRUE(f.on("fast"));
  vps::cli::Flags g("x", "test");
  g.opt("n", "3", "count");
  EXPECT_THROW(g.parse({"--m", "1"}), vps::cli::UsageError);
  vps::cli::Flags h("x", "test");
  h.opt("n", "", "count", true);
  EXPECT_THROW(h.parse({}), vps::cli::UsageError);
  vps::cli::Flags k("x", "test");
  k.opt("n", "abc", "count");
  ASSERT_TRUE(k.parse({}));
  EXPECT_THROW(k.get_int("n", 0, 10), vps::cli::UsageError);
}

TEST(CliFlags, ARepeatedFlagIsAUsageErrorNamingIt) {
  vps::cli::Flags f("x", "test");
  f.opt("out", "o.txt", "output").flag("fast", "go fast");
  try {
    f.parse({"--out", "a", "--out=b"});
    FAIL() << "a repeated --out was accepted";
  } catch (const vps::cli::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--out"), std::string::npos) << e.what();
  }
  vps::cli::Flags g("x", "test");
  g.flag("fast", "go fast");
  EXPECT_THROW(g.parse({"--fast", "--fast"}), vps::cli::UsageError);
  // Defined twice (one definition would be silently unused): refused at definition.
  vps::cli::Flags h("x", "test");
  h.opt("n", "3", "count");
  EXPECT_THROW(h.opt("n", "4", "count again"), vps::cli::UsageError);
  EXPECT_THROW(h.flag("n", "a switch"), vps::cli::UsageError);
  // As a user meets it: exit code 2, the flag named, nothing run.
  vps::test::CliResult r = vps::test::vps_cli({"synth", "--out", "a", "--out", "b"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--out given more than once"), std::string::npos) << r.err;
}
