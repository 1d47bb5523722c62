// Workspace confinement: no path leaves the folder (lexically or through links), size limits hold.
#include <unistd.h>

#include "mcp_fixture.hpp"
#include "support/support.hpp"

namespace plena_mcp_test {
namespace {

using plena::mcp::Workspace;

std::string refusal(Workspace& ws, const std::string& rel, const std::string& content = "x") {
  try {
    ws.write(rel, content);
  } catch (const plena::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(McpWorkspace, LexicalEscapesAndOddNamesAreRefused) {
  Workspace ws(fresh_dir("") / "ws");
  for (const std::string bad : {"../x.asm", "a/../../x.asm", "/tmp/x.asm", "", "a\\b.asm", "x.txt", "logs/s.jsonl",
                                ".hidden.asm", "a/.git/x.asm", "x.asm\n", "sp ace.asm", "a/b/c/d/e/f/g.asm", "."})
    EXPECT_FALSE(refusal(ws, bad).empty()) << "'" << bad << "' was accepted";
  EXPECT_NE(refusal(ws, "../x.asm").find("'..' would leave the workspace"), std::string::npos);
  EXPECT_NE(refusal(ws, "/etc/x.asm").find("absolute"), std::string::npos);
  EXPECT_EQ(ws.write("./a//b.asm", "S"), "a/b.asm");
  EXPECT_EQ(ws.read("a/b.asm"), "S");
}

TEST(McpWorkspace, SymlinksAreNeverFollowed) {
  const fs::path dir = fresh_dir("");
  Workspace ws(dir / "ws");
  plena::write_text_file(dir / "secret.asm", "outside");
  fs::create_directories(dir / "elsewhere");
  fs::create_symlink(dir / "secret.asm", ws.root() / "link.asm");
  fs::create_symlink(dir / "elsewhere", ws.root() / "sub");
  fs::create_symlink(ws.root() / "real.asm", ws.root() / "inner.asm");  // even links that stay inside
  EXPECT_THROW(ws.read("link.asm"), plena::InputError);
  EXPECT_NE(refusal(ws, "link.asm").find("symbolic link"), std::string::npos);
  EXPECT_NE(refusal(ws, "sub/new.asm").find("symbolic link"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "elsewhere" / "new.asm"));
  EXPECT_EQ(plena::read_text_file(dir / "secret.asm"), "outside");
  EXPECT_FALSE(refusal(ws, "inner.asm").empty());
}

TEST(McpWorkspace, SizeAndFileCountLimits) {
  plena::mcp::WorkspaceLimits lim;
  lim.max_file_bytes = 10;
  lim.max_files = 2;
  const fs::path dir = fresh_dir("");
  Workspace ws(dir / "ws", lim);
  EXPECT_NE(refusal(ws, "a.asm", std::string(11, 'x')).find("over the limit of 10 bytes"), std::string::npos);
  ws.write("a.asm", "1");
  ws.write("b.asm", "2");
  ws.write("a.asm", "3");  // overwriting does not count
  EXPECT_NE(refusal(ws, "c.asm").find("already created 2 files"), std::string::npos);
  plena::write_text_file(ws.root() / "big.asm", std::string(11, 'x'));  // put there by someone else
  EXPECT_THROW(ws.read("big.asm"), plena::InputError);
  EXPECT_THROW(ws.read("missing.asm"), plena::InputError);
  fs::create_directories(ws.root() / "dir.asm");
  EXPECT_THROW(ws.read("dir.asm"), plena::InputError);
}

TEST(McpWorkspace, AFileWhereAFolderIsNeededIsRefused) {
  Workspace ws(fresh_dir("") / "ws");
  ws.write("a.asm", "1");
  EXPECT_NE(refusal(ws, "a.asm/b.asm").find("is not a folder"), std::string::npos);
}

TEST_F(McpTest, PathEscapesAndOversizedCodeAreIsErrorResults) {
  initialize();
  json r = call("write_code", {{"path", "../../etc/evil.asm"}, {"code", "x"}});
  EXPECT_TRUE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("would leave the workspace"), std::string::npos) << text(r);
  r = call("check_syntax", {{"path", "/etc/passwd"}});
  EXPECT_TRUE(r["isError"].get<bool>());
  r = call("write_code", {{"path", "big.asm"}, {"code", std::string(300 * 1024, ';')}});
  EXPECT_TRUE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("over the limit"), std::string::npos) << text(r);
  EXPECT_FALSE(fs::exists(ws_->root() / "big.asm"));
}

}  // namespace
}  // namespace plena_mcp_test
