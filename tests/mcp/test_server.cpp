// The JSON-RPC layer and the tools, line by line against a stand-in benchmark.
#include <regex>

#include "mcp_fixture.hpp"
#include "support/support.hpp"

namespace plena_mcp_test {
namespace {

int error_code(const json& reply) { return reply.at("error").at("code").get<int>(); }

TEST_F(McpTest, InitializeAnswersTheRequestedRevisionAndToolCapability) {
  json r = request("initialize", {{"protocolVersion", "2025-11-25"}, {"capabilities", json::object()},
                                  {"clientInfo", {{"name", "c"}, {"version", "1"}}}},
                   "init-1");
  EXPECT_EQ(r["jsonrpc"], "2.0");
  EXPECT_EQ(r["id"], "init-1");
  EXPECT_EQ(r["result"]["protocolVersion"], "2025-11-25");
  EXPECT_EQ(r["result"]["capabilities"]["tools"]["listChanged"], false);
  EXPECT_EQ(r["result"]["serverInfo"]["name"], "plena");
  EXPECT_EQ(r["result"]["serverInfo"]["version"], "9.9.9");
  EXPECT_EQ(error_code(request("initialize", {{"protocolVersion", "2025-11-25"}})), -32600) << "initialize twice";
}

TEST_F(McpTest, UnknownRevisionIsAnsweredWithTheLatestAndOlderOnesEchoed) {
  EXPECT_EQ(request("initialize", {{"protocolVersion", "1999-01-01"}})["result"]["protocolVersion"], "2025-11-25");
  start({});
  EXPECT_EQ(request("initialize", {{"protocolVersion", "2025-06-18"}})["result"]["protocolVersion"], "2025-06-18");
  start({});
  EXPECT_EQ(error_code(request("initialize", json::object())), -32602) << "protocolVersion is required";
}

TEST_F(McpTest, OnlyPingAndInitializeBeforeInitialization) {
  EXPECT_EQ(request("ping", json::object())["result"], json::object());
  EXPECT_EQ(error_code(request("tools/list", json::object())), -32600);
  initialize();
  EXPECT_EQ(request("ping", json::object(), 7)["result"], json::object());
}

TEST_F(McpTest, ToolsListHasTheEightToolsWithObjectSchemas) {
  initialize();
  const json tools = request("tools/list", json::object())["result"]["tools"];
  std::set<std::string> names;
  const std::regex name_rule("[A-Za-z0-9_.-]{1,128}");
  for (const json& t : tools) {
    names.insert(t["name"].get<std::string>());
    EXPECT_TRUE(std::regex_match(t["name"].get<std::string>(), name_rule));
    EXPECT_EQ(t["inputSchema"]["type"], "object");
    EXPECT_EQ(t["inputSchema"]["additionalProperties"], false);
    EXPECT_FALSE(t["description"].get<std::string>().empty());
  }
  EXPECT_EQ(names, (std::set<std::string>{"list_tasks", "describe_task", "write_code", "check_syntax", "run_evaluation",
                                          "view_output", "grep_docs", "get_instruction_size"}));
  EXPECT_EQ(error_code(request("tools/list", {{"cursor", "x"}})), -32602);
}

TEST_F(McpTest, MalformedMessagesGetJsonRpcErrors) {
  initialize();
  EXPECT_EQ(error_code(*send("{not json")), -32700);
  EXPECT_TRUE(send("{not json")->at("id").is_null());
  EXPECT_EQ(error_code(*send(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])")), -32600) << "no batches";
  EXPECT_EQ(error_code(*send("42")), -32600);
  EXPECT_EQ(error_code(*send(R"({"jsonrpc":"2.0","id":null,"method":"ping"})")), -32600);
  EXPECT_EQ(error_code(*send(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})")), -32600);
  EXPECT_EQ(error_code(*send(R"({"id":3,"method":"ping"})")), -32600) << "jsonrpc missing";
  EXPECT_EQ(send(R"({"id":3,"method":"ping"})")->at("id"), 3);
  EXPECT_EQ(error_code(*send(R"({"jsonrpc":"2.0","id":3,"method":7})")), -32600);
  EXPECT_EQ(error_code(*send(R"({"jsonrpc":"2.0","id":3})")), -32600);
  EXPECT_EQ(error_code(*send(R"({"jsonrpc":"2.0","id":3,"method":"nope"})")), -32601);
  EXPECT_EQ(error_code(*send(R"({"jsonrpc":"2.0","id":3,"method":"ping","params":[1]})")), -32602);
  EXPECT_EQ(error_code(request("tools/call", {{"name", "rm_rf"}})), -32602) << "unknown tool";
  EXPECT_EQ(error_code(request("tools/call", {{"arguments", json::object()}})), -32602) << "no name";
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(error_code(*send(deep)), -32600);
  const std::string bad_utf8 = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}";
  EXPECT_EQ(error_code(*send(bad_utf8)), -32700);
}

TEST_F(McpTest, NotificationsResponsesAndBlankLinesGetNoReply) {
  initialize();
  EXPECT_FALSE(send("").has_value());
  EXPECT_FALSE(send("  \r").has_value());
  EXPECT_FALSE(send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}})").has_value());
  EXPECT_FALSE(send(R"({"jsonrpc":"2.0","method":"no/such/notification"})").has_value());
  EXPECT_FALSE(send(R"({"jsonrpc":"1.0","method":"ping"})").has_value());
  EXPECT_FALSE(send(R"({"jsonrpc":"2.0","id":9,"result":{}})").has_value());
}

TEST_F(McpTest, BadToolArgumentsAreIsErrorResultsTheModelCanRead) {
  initialize();
  json r = call("describe_task", {{"task", "copy"}});
  EXPECT_TRUE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("missing required argument 'config'"), std::string::npos) << text(r);
  r = call("describe_task", {{"task", "copy"}, {"config", "C1"}, {"colour", "red"}});
  EXPECT_NE(text(r).find("unknown argument 'colour'"), std::string::npos) << text(r);
  r = call("list_tasks", {{"level", "one"}});
  EXPECT_NE(text(r).find("'level' must be a integer"), std::string::npos) << text(r);
  r = call("describe_task", {{"task", "nope"}, {"config", "C1"}});
  EXPECT_TRUE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("known: copy, block"), std::string::npos) << text(r);
}

TEST_F(McpTest, ListAndDescribeShowBudgetsByLevel) {
  initialize();
  json r = call("list_tasks", json::object());
  EXPECT_FALSE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("copy | L1 | 15 | C1 C2 | Copy"), std::string::npos) << text(r);
  EXPECT_NE(text(r).find("block | L3 | 25 | C1 | Block"), std::string::npos) << text(r);
  EXPECT_EQ(call("list_tasks", {{"level", 3}})["structuredContent"]["tasks"].size(), 1u);
  r = call("describe_task", {{"task", "block"}, {"config", "C1"}});
  EXPECT_NE(text(r).find("left for block C1: 25 of 25"), std::string::npos) << text(r);
}

TEST_F(McpTest, WrongKernelThenDiffThenFixPasses) {
  initialize();
  EXPECT_TRUE(call("view_output", {{"task", "copy"}, {"config", "C1"}})["isError"].get<bool>()) << "nothing run yet";
  json r = call("write_code", {{"path", "k/copy.asm"}, {"code", "S_ADDI_INT gp1, gp0, 1\n"}});
  EXPECT_FALSE(r["isError"].get<bool>());
  EXPECT_EQ(r["structuredContent"]["path"], "k/copy.asm");
  r = call("check_syntax", {{"path", "k/copy.asm"}});
  EXPECT_EQ(text(r), "All checks passed. 0 error(s), 0 warning(s). 1 instructions.");
  r = call("run_evaluation", {{"task", "copy"}, {"config", "C1"}, {"path", "./k//copy.asm"}});
  EXPECT_FALSE(r["isError"].get<bool>()) << "a mismatch is a completed evaluation";
  EXPECT_FALSE(r["structuredContent"]["passed"].get<bool>());
  EXPECT_EQ(r["structuredContent"]["iteration"], 1);
  EXPECT_NE(text(r).find("50.0% of elements do not match"), std::string::npos);
  EXPECT_NE(text(r).find("Evaluation 1 of 15"), std::string::npos);
  r = call("view_output", {{"task", "copy"}, {"config", "C1"}});
  EXPECT_NE(text(r).find("row 0: 2 mismatches"), std::string::npos) << text(r);
  call("write_code", {{"path", "k/copy.asm"}, {"code", "S_ADDI_INT gp1, gp0, 1\nS_ADDI_INT gp2, gp0, 2\n"}});
  EXPECT_EQ(call("get_instruction_size", {{"path", "k/copy.asm"}})["structuredContent"]["instructions"], 2);
  r = call("run_evaluation", {{"task", "copy"}, {"config", "C1"}, {"path", "k/copy.asm"}});
  EXPECT_TRUE(r["structuredContent"]["passed"].get<bool>()) << r.dump();
  EXPECT_EQ(r["structuredContent"]["iteration"], 2);
  EXPECT_EQ(r["structuredContent"]["speedup"], 1.25);
}

TEST_F(McpTest, SyntaxErrorsAreLocatedIsErrorResults) {
  initialize();
  call("write_code", {{"path", "bad.asm"}, {"code", "S_ADDI_INT gp1, gp0, 1\nV_FROB gp1\n"}});
  json r = call("check_syntax", {{"path", "bad.asm"}});
  EXPECT_TRUE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("bad.asm:2:"), std::string::npos) << text(r);
  EXPECT_TRUE(call("get_instruction_size", {{"path", "bad.asm"}})["isError"].get<bool>());
  r = call("run_evaluation", {{"task", "copy"}, {"config", "C2"}, {"path", "bad.asm"}});
  EXPECT_TRUE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("syntax_error"), std::string::npos) << text(r);
  EXPECT_TRUE(call("view_output", {{"task", "copy"}, {"config", "C2"}})["isError"].get<bool>());
}

TEST_F(McpTest, IterationBudgetEndsAtTheLevelLimit) {
  initialize();
  call("write_code", {{"path", "k.asm"}, {"code", "S_ADDI_INT gp1, gp0, 1\n"}});
  for (int i = 1; i <= 15; ++i)
    ASSERT_FALSE(call("run_evaluation", {{"task", "copy"}, {"config", "C1"}, {"path", "k.asm"}})["isError"].get<bool>());
  json r = call("run_evaluation", {{"task", "copy"}, {"config", "C1"}, {"path", "k.asm"}});
  EXPECT_TRUE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("iteration budget exhausted: 15 evaluations of copy C1"), std::string::npos) << text(r);
  EXPECT_FALSE(call("run_evaluation", {{"task", "copy"}, {"config", "C2"}, {"path", "k.asm"}})["isError"].get<bool>())
      << "budgets are per configuration";
}

TEST_F(McpTest, GrepDocsFindsAMnemonicOrWords) {
  initialize();
  json r = call("grep_docs", {{"query", "v_exp_v"}});
  EXPECT_EQ(r["structuredContent"]["matches"], json::array({"V_EXP_V"}));
  EXPECT_NE(text(r).find("Format: V_EXP_V"), std::string::npos) << text(r);
  EXPECT_NE(text(r).find("Operation:"), std::string::npos);
  r = call("grep_docs", {{"query", "EXP"}});
  EXPECT_GE(r["structuredContent"]["total"].get<int>(), 2) << text(r);
  r = call("grep_docs", {{"query", "zzzqqq"}});
  EXPECT_FALSE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("No ISA entry"), std::string::npos);
}

TEST_F(McpTest, EveryToolCallIsLoggedAsABenchLogRecord) {
  initialize();
  call("write_code", {{"path", "k.asm"}, {"code", "S_ADDI_INT gp1, gp0, 1\nS_ADDI_INT gp2, gp0, 2\n"}});
  call("run_evaluation", {{"task", "copy"}, {"config", "C1"}, {"path", "k.asm"}});
  call("write_code", {{"path", "../k.asm"}, {"code", ""}});
  std::vector<json> recs;
  for (const auto& e : fs::directory_iterator(dir_ / "logs")) {
    std::istringstream in(plena::read_text_file(e.path()));
    for (std::string line; std::getline(in, line);) recs.push_back(json::parse(line));
  }
  ASSERT_EQ(recs.size(), 4u);
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i]["schema"], "plena-bench-log/1");
    EXPECT_EQ(recs[i]["seq"], i + 1);
    EXPECT_EQ(recs[i]["agent"], "test-agent");
  }
  EXPECT_EQ(recs[0]["tool"], "initialize");
  EXPECT_EQ(recs[2]["tool"], "run_evaluation");
  EXPECT_EQ(recs[2]["task"], "copy");
  EXPECT_EQ(recs[2]["config"], "C1");
  EXPECT_EQ(recs[2]["iteration"], 1);
  EXPECT_EQ(recs[2]["task_version"], 3);
  EXPECT_TRUE(recs[2]["result"]["passed"].get<bool>());
  EXPECT_EQ(recs[2]["kernel"], "S_ADDI_INT gp1, gp0, 1\nS_ADDI_INT gp2, gp0, 2\n");
  EXPECT_TRUE(recs[3]["is_error"].get<bool>());
  EXPECT_EQ(recs[3]["arguments"]["path"], "../k.asm");
}

TEST_F(McpTest, AnEndlessOrCrashingEvaluationEndsInAnIsErrorAndTheServerGoesOn) {
  isolate_ = true;
  plena::mcp::SessionOptions opt;
  opt.limits.max_seconds = 0.2;
  start(opt);
  initialize();
  call("write_code", {{"path", "loop.asm"}, {"code", "; LOOP\nS_ADDI_INT gp1, gp0, 1\n"}});
  call("write_code", {{"path", "crash.asm"}, {"code", "; CRASH\n"}});
  json r = call("run_evaluation", {{"task", "copy"}, {"config", "C1"}, {"path", "loop.asm"}});
  EXPECT_TRUE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("wall-time budget"), std::string::npos) << text(r);
  r = call("run_evaluation", {{"task", "copy"}, {"config", "C1"}, {"path", "crash.asm"}});
  EXPECT_TRUE(r["isError"].get<bool>());
  EXPECT_NE(text(r).find("crashed (signal 6)"), std::string::npos) << text(r);
  EXPECT_EQ(request("ping", json::object())["result"], json::object());
  call("write_code", {{"path", "ok.asm"}, {"code", "S_ADDI_INT gp1, gp0, 1\nS_ADDI_INT gp2, gp0, 2\n"}});
  r = call("run_evaluation", {{"task", "copy"}, {"config", "C1"}, {"path", "ok.asm"}});
  EXPECT_TRUE(r["structuredContent"]["passed"].get<bool>()) << "a result comes back from the child: " << r.dump();
  EXPECT_EQ(r["structuredContent"]["speedup"], 1.25);
  EXPECT_NE(text(call("view_output", {{"task", "copy"}, {"config", "C1"}})).find("row 0: 0 mismatches"), std::string::npos);
}

}  // namespace
}  // namespace plena_mcp_test
