plena_add_bench(bench_compiler SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_compiler.cpp LIBS plena_compiler)
