// The stdio transport: newline-delimited messages from `in_fd`, answers to `out_fd`.
#pragma once
#include <cstddef>

#include "mcp/server.hpp"

namespace plena::mcp {

inline constexpr size_t kMaxLineBytes = 4u << 20;

// Serves until end of input (or until `out_fd` refuses a write). Lines over `max_line` bytes are
// skipped and answered with an error. Returns 0 on end of input, 1 when the output closed.
int serve_stdio(Server& server, int in_fd, int out_fd, size_t max_line = kMaxLineBytes);

}  // namespace plena::mcp
