// Ranks over MPI when the build has it (PLENA_HAVE_MPI), else a single process.
#include "dse/mpi.hpp"

#ifdef PLENA_HAVE_MPI
#include <mpi.h>

#include <cstring>
#endif

namespace plena::dse {

#ifdef PLENA_HAVE_MPI

Ranks::Ranks() {
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) MPI_Init(nullptr, nullptr);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

Ranks::~Ranks() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// Strings joined with '\n' (records never contain a newline), lengths gathered first.
std::vector<std::string> Ranks::all_gather(const std::vector<std::string>& mine) const {
  if (size_ == 1) return mine;
  std::string packed;
  for (const auto& s : mine) packed += s + "\n";
  int len = int(packed.size());
  const size_t ranks = static_cast<size_t>(size_);
  std::vector<int> lens(ranks), offsets(ranks);
  MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size_; ++r) offsets[size_t(r)] = total, total += lens[size_t(r)];
  std::string all(size_t(total), '\0');
  MPI_Allgatherv(packed.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1) out.push_back(all.substr(start, nl - start));
  return out;
}

bool Ranks::built_with_mpi() { return true; }

#else

Ranks::Ranks() = default;
Ranks::~Ranks() = default;
std::vector<std::string> Ranks::all_gather(const std::vector<std::string>& mine) const { return mine; }
bool Ranks::built_with_mpi() { return false; }

#endif

}  // namespace plena::dse
