// OutputFile / OutputTransaction: atomic replacement, checked writes, rollback, special files.
#include <sys/stat.h>

#include "cli_run.hpp"
#include "support/output.hpp"

using namespace plena_cli_test;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const plena::InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(OutputFile, WritesAndReplacesWithoutLeavingTemporaries) {
  const fs::path d = test_dir();
  plena::write_output_file(d / "a.txt", "first");
  ::chmod((d / "a.txt").c_str(), 0640);
  plena::write_output_file(d / "a.txt", "second");
  EXPECT_EQ(plena::read_text_file(d / "a.txt"), "second");
  struct stat st{};
  ASSERT_EQ(::stat((d / "a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u) << "replacing keeps the file's permissions";
  EXPECT_EQ(entries(d), std::vector<std::string>{"a.txt"});
}

TEST(OutputFile, UnclosedFileLeavesTargetUnchanged) {
  const fs::path d = test_dir();
  plena::write_output_file(d / "a.txt", "old");
  {
    plena::OutputFile f(d / "a.txt");
    f.stream() << "partial";
  }  // an exception unwinding through here
  EXPECT_EQ(plena::read_text_file(d / "a.txt"), "old");
  EXPECT_EQ(entries(d), std::vector<std::string>{"a.txt"});
}

TEST(OutputFile, ErrorsNameTheFileAndTheOsReason) {
  const fs::path d = test_dir();
  std::string e = error_of([&] { plena::write_output_file(d / "missing" / "a.txt", "x"); });
  EXPECT_TRUE(contains(e, (d / "missing" / "a.txt").string() + ": error:")) << e;
  EXPECT_TRUE(contains(e, "No such file or directory")) << e;
  e = error_of([&] { plena::write_output_file(d, "x"); });
  EXPECT_TRUE(contains(e, "Is a directory")) << e;
  e = error_of([] { plena::write_output_file("/dev/full", "x"); });
  EXPECT_TRUE(contains(e, "/dev/full: error: cannot write file: No space left on device")) << e;
  e = error_of([] {
    plena::OutputFile f("/dev/full");
    f.stream() << std::string(1 << 20, 'x');  // fails inside the buffer, reported at close
    f.close();
  });
  EXPECT_TRUE(contains(e, "No space left on device")) << e;
}

TEST(OutputFile, SymlinkedTargetIsReplacedWhereItPoints) {
  const fs::path d = test_dir();
  plena::write_output_file(d / "real.txt", "old");
  fs::create_symlink("real.txt", d / "link.txt");
  plena::write_output_file(d / "link.txt", "new");
  EXPECT_TRUE(fs::is_symlink(d / "link.txt"));
  EXPECT_EQ(plena::read_text_file(d / "real.txt"), "new");
}

TEST(OutputTransaction, RollbackRemovesEveryStagedFileAndKeepsOldOnes) {
  const fs::path d = test_dir();
  plena::write_output_file(d / "keep.txt", "old");
  {
    plena::OutputTransaction tx;
    plena::write_output_file(d / "keep.txt", "new");
    plena::write_output_file(d / "fresh.txt", "new");
    EXPECT_FALSE(fs::exists(d / "fresh.txt")) << "staged until commit";
  }
  EXPECT_EQ(plena::read_text_file(d / "keep.txt"), "old");
  EXPECT_EQ(entries(d), std::vector<std::string>{"keep.txt"});
}

TEST(OutputTransaction, CommitRenamesEverything) {
  const fs::path d = test_dir();
  plena::OutputTransaction tx;
  plena::write_output_file(d / "a.txt", "A");
  plena::write_output_file(d / "b.txt", "B");
  tx.commit();
  EXPECT_EQ(plena::read_text_file(d / "a.txt"), "A");
  EXPECT_EQ(plena::read_text_file(d / "b.txt"), "B");
  EXPECT_EQ(entries(d), (std::vector<std::string>{"a.txt", "b.txt"}));
}
