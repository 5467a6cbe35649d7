#pragma once
// What the distributed sources share beyond the public API.
#include <mpi.h>

#include "tapegrad/core/dtype.h"

namespace tg::distributed::detail {

/// Throws tg::Error "<op>: MPI error <code>: <MPI's text>" unless code is MPI_SUCCESS.
void check_mpi(int code, const char* op);
/// MPI_FLOAT or MPI_DOUBLE.
MPI_Datatype mpi_type(DType t);

}  // namespace tg::distributed::detail
