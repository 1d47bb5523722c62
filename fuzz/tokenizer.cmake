plena_add_fuzzer(fuzz_tokenizer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_tokenizer.cpp LIBS plena_tokenizer)
target_compile_definitions(fuzz_tokenizer PRIVATE PLENA_TOKENIZER_DATA="${CMAKE_SOURCE_DIR}/tests/tokenizer/data")
