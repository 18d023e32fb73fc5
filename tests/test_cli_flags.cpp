#include <gtest/gtest.h>

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
