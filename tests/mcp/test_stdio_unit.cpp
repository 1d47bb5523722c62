// serve_stdio on files: line framing, oversized lines, a last line without its newline.
#include <fcntl.h>
#include <unistd.h>

#include <sstream>

#include "mcp/stdio.hpp"
#include "mcp_fixture.hpp"
#include "support/support.hpp"

namespace plena_mcp_test {
namespace {

std::vector<json> serve(plena::mcp::Server& server, const fs::path& dir, const std::string& input, size_t max_line) {
  plena::write_text_file(dir / "in.txt", input);
  const int in = ::open((dir / "in.txt").c_str(), O_RDONLY);
  const int out = ::open((dir / "out.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EXPECT_EQ(plena::mcp::serve_stdio(server, in, out, max_line), 0);
  ::close(in);
  ::close(out);
  std::vector<json> replies;
  std::istringstream lines(plena::read_text_file(dir / "out.txt"));
  for (std::string line; std::getline(lines, line);) replies.push_back(json::parse(line));
  return replies;
}

TEST_F(McpTest, StdioFramesOneMessagePerLineAndRefusesOversizedOnes) {
  const std::string init =
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})";
  const std::string big = R"({"jsonrpc":"2.0","id":2,"method":"ping","params":{"pad":")" + std::string(500, 'x') + "\"}}";
  const std::string input = init + "\r\n\n" + big + "\n" + R"({"jsonrpc":"2.0","method":"notifications/initialized"})" +
                            "\n" + R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})" + "\n" +
                            R"({"jsonrpc":"2.0","id":4,"method":"ping"})";  // no final newline
  const auto replies = serve(*server_, dir_, input, 200);
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0]["result"]["protocolVersion"], "2025-11-25");
  EXPECT_EQ(replies[1]["error"]["code"], -32600);
  EXPECT_NE(replies[1]["error"]["message"].get<std::string>().find("longer than 200 bytes"), std::string::npos);
  EXPECT_TRUE(replies[1]["id"].is_null());
  EXPECT_EQ(replies[2]["id"], 3);
  EXPECT_EQ(replies[2]["result"]["tools"].size(), 8u);
  EXPECT_EQ(replies[3]["id"], 4);
}

}  // namespace
}  // namespace plena_mcp_test
