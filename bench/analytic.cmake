plena_add_bench(bench_analytic SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_analytic.cpp LIBS plena_analytic)
