// Checkpoints of a distributed run: rank 0 writes, then tells every rank how it went.
#include "tapegrad/distributed/checkpoint.h"

#include <mpi.h>

#include "comm_detail.h"
#include "tapegrad/distributed/comm.h"

namespace tg::distributed {

void save_checkpoint(const Checkpoint& checkpoint, const std::string& path) {
  TG_CHECK(is_initialized(), "distributed::save_checkpoint: MPI is not running; call tg::distributed::init() first");
  std::string error;
  if (rank() == 0) {
    try {
      tg::save_checkpoint(checkpoint, path);
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error";
    }
  }
  // Rank 0's outcome (empty: written) to every rank: a failed save is an error everywhere,
  // never a rank waiting for a file that will not come.
  int len = static_cast<int>(error.size());
  detail::check_mpi(MPI_Bcast(&len, 1, MPI_INT, 0, MPI_COMM_WORLD), "distributed::save_checkpoint");
  error.resize(static_cast<std::size_t>(len));
  detail::check_mpi(MPI_Bcast(error.data(), len, MPI_CHAR, 0, MPI_COMM_WORLD), "distributed::save_checkpoint");
  TG_CHECK(error.empty(), "distributed::save_checkpoint: rank 0 could not write '{}': {}", path, error);
}

Checkpoint load_checkpoint(const std::string& path) {
  TG_CHECK(is_initialized(), "distributed::load_checkpoint: MPI is not running; call tg::distributed::init() first");
  barrier();
  return tg::load_checkpoint(path);
}

}  // namespace tg::distributed
