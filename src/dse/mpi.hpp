// Process ranks for `mpirun -np N plena dse ...` (optional build feature PLENA_MPI, OpenMPI).
// Without it (or when not started by mpirun) there is one rank and all_gather is the identity.
#pragma once
#include <string>
#include <vector>

namespace plena::dse {

class Ranks {
 public:
  Ranks();   // MPI_Init when built with MPI
  ~Ranks();  // MPI_Finalize
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Every rank's strings, rank 0's first (each rank passes its own).
  std::vector<std::string> all_gather(const std::vector<std::string>& mine) const;
  static bool built_with_mpi();

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace plena::dse
