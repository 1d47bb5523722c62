plena_add_bench(bench_numerics SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_numerics.cpp LIBS plena_numerics)
