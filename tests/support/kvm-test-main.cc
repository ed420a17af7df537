// SPDX-License-Identifier: GPL-2.0-or-later
//
// main() of the KVM test programs: GoogleTest's, except that a program all of whose tests
// skipped (no /dev/kvm, not root) exits with 77, so that `meson test` reports SKIP, not OK.
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int rc = RUN_ALL_TESTS();
  const ::testing::UnitTest* run = ::testing::UnitTest::GetInstance();
  if (rc == 0 && run->test_to_run_count() > 0 &&
      run->skipped_test_count() == run->test_to_run_count()) {
    return 77;
  }
  return rc;
}
