// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/error.h"

#include <gtest/gtest.h>

namespace colo {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0)
    return make_error("value %d is not positive", v);
  return v;
}

Result<int> doubled(int v) {
  COLO_ASSIGN_OR_RETURN(int x, parse_positive(v).prepend("doubling"));
  return 2 * x;
}

Status check_all(int a, int b) {
  COLO_TRY(parse_positive(a));
  COLO_TRY(parse_positive(b).prepend("second"));
  return ok_status();
}

TEST(ErrorTest, ResultCarriesValueOrError) {
  auto ok = doubled(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 8);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "doubling: value -1 is not positive");
  EXPECT_EQ(bad.error().error_class(), ErrorClass::kGenericError);
}

TEST(ErrorTest, StatusPropagatesWithContext) {
  EXPECT_TRUE(check_all(1, 2).ok());
  Status s = check_all(1, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "second: value 0 is not positive");
}

TEST(ErrorTest, ErrnoAndClasses) {
  Error e = errno_error(ENOENT, "open '%s'", "/nonexistent");
  EXPECT_EQ(e.message(), "open '/nonexistent': No such file or directory");
  Error c("no such command", ErrorClass::kCommandNotFound);
  EXPECT_EQ(error_class_name(c.error_class()), "CommandNotFound");
  c.set_hint("try 'help'");
  EXPECT_EQ(c.hint(), "try 'help'");
}

}  // namespace
}  // namespace colo
