# The IDX test of examples/mlp_mnist, run by ctest as
#   cmake -DEXE=<mlp_mnist> -DOUT=<folder> "-DARGS=<flags>" -P idx_test.cmake
# Writes a small generated set as the four MNIST IDX files (the hidden flag --write-idx), then
# trains 2 epochs on them through --data: fails unless the files were read, the loss went down
# and the outputs were written (the program's exit status), and the run said it used the files.
include(${CMAKE_CURRENT_LIST_DIR}/../example_test.cmake)

file(REMOVE_RECURSE ${OUT})
run(--write-idx ${OUT}/idx)
foreach(name train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
  if(NOT EXISTS ${OUT}/idx/${name})
    message(FATAL_ERROR "--write-idx did not write ${OUT}/idx/${name}")
  endif()
endforeach()
run(--epochs 2 --data ${OUT}/idx --out ${OUT}/run)
if(NOT output MATCHES "MNIST from ")
  message(FATAL_ERROR "the run with --data did not read the IDX files:\n${output}")
endif()
message(STATUS "trained on the IDX files written by --write-idx")
