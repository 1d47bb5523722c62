# libFuzzer target for the MCP JSON-RPC layer (built with clang, -DPLENA_BUILD_FUZZ=ON).
plena_add_fuzzer(fuzz_mcp_jsonrpc SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_mcp_jsonrpc.cpp LIBS plena_mcp plena_isa fmt::fmt)
