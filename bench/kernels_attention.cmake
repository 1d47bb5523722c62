plena_add_bench(bench_kernels_attention SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_kernels_attention.cpp
  LIBS plena_compiler plena_sim)
