// A server over a FakeBench in a fresh workspace, driven line by line.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>

#include "fake_bench.hpp"
#include "mcp/server.hpp"

namespace plena_mcp_test {

namespace fs = std::filesystem;
using json = nlohmann::json;

inline fs::path fresh_dir(const std::string& tag) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path d = fs::path(PLENA_BINARY_DIR) / "test_mcp_tmp" / (std::string(info->test_suite_name()) + "." + info->name() + tag);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

class McpTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void start(plena::mcp::SessionOptions opt) {
    opt.isolate = opt.isolate && isolate_;
    dir_ = fresh_dir("");
    ws_ = std::make_unique<plena::mcp::Workspace>(dir_ / "ws");
    log_ = std::make_unique<plena::mcp::SessionLog>(plena::mcp::SessionLog::in_folder(dir_ / "logs"));
    tools_ = std::make_unique<plena::mcp::Tools>(bench_, *ws_, opt);
    server_ = std::make_unique<plena::mcp::Server>(*tools_, *log_, "9.9.9");
  }
  // The reply to one raw line, parsed (nullopt when there is none).
  std::optional<json> send(const std::string& line) {
    auto r = server_->handle_line(line);
    if (!r) return std::nullopt;
    EXPECT_EQ(r->find('\n'), std::string::npos) << "a reply must be one line";
    return json::parse(*r);
  }
  json request(const std::string& method, const json& params, const json& id = 1) {
    auto r = send(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump());
    EXPECT_TRUE(r.has_value());
    return r.value_or(json());
  }
  void initialize() {
    json r = request("initialize", {{"protocolVersion", "2025-11-25"}, {"capabilities", json::object()},
                                    {"clientInfo", {{"name", "test-agent"}, {"version", "1"}}}});
    ASSERT_TRUE(r.contains("result")) << r.dump();
    EXPECT_FALSE(send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").has_value());
  }
  // tools/call's result object.
  json call(const std::string& tool, const json& args) {
    json r = request("tools/call", {{"name", tool}, {"arguments", args}}, ++id_);
    EXPECT_TRUE(r.contains("result")) << r.dump();
    return r.value("result", json::object());
  }
  static std::string text(const json& result) { return result["content"][0]["text"].get<std::string>(); }

  FakeBench bench_;
  bool isolate_ = false;
  fs::path dir_;
  std::unique_ptr<plena::mcp::Workspace> ws_;
  std::unique_ptr<plena::mcp::SessionLog> log_;
  std::unique_ptr<plena::mcp::Tools> tools_;
  std::unique_ptr<plena::mcp::Server> server_;
  int id_ = 100;
};

}  // namespace plena_mcp_test
