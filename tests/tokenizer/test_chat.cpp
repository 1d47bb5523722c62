// Chat templates: the family is recognised from the Jinja source and rendered as Hugging Face's
// apply_chat_template renders these templates (expected strings derived from the templates by hand).
#include <gtest/gtest.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "tok_test.hpp"

namespace plena::tokenizer {
namespace {

// A copy of data/<base> whose tokenizer_config.json carries `jinja` as chat_template.
Tokenizer with_template(const std::string& base, const std::string& jinja, const std::string& bos,
                        const std::string& eos) {
  const auto dir = tok_test::scratch(base);
  nlohmann::json cfg{{"bos_token", bos}, {"eos_token", eos}, {"chat_template", jinja}};
  write_text_file(dir / "tokenizer_config.json", cfg.dump());
  return Tokenizer::load(dir);
}

const std::vector<ChatMessage> kUser{{"user", "Hi there "}};

TEST(ChatTemplate, Llama3) {
  const auto tok = Tokenizer::load(tok_test::data("bytelevel"));  // its config has a LLaMA-3.0 template
  EXPECT_EQ(tok.chat_family(), "llama3");
  EXPECT_EQ(tok.apply_chat_template(kUser),
            "<|bos|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(tok.apply_chat_template(kUser, false), "<|bos|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>");
}

TEST(ChatTemplate, Llama31SystemHeaderWithDates) {
  const auto tok = with_template("bytelevel",
                                 "{{- bos_token }}{%- if not date_string is defined %}{%- set date_string = \"26 Jul "
                                 "2024\" %}{%- endif %}{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}"
                                 "{{- \"Cutting Knowledge Date: December 2023\\n\" }}<|eot_id|>",
                                 "<|bos|>", "<|eos|>");
  const std::vector<ChatMessage> msgs{{"system", " Be brief."}, {"user", "Hi"}};
  EXPECT_EQ(tok.apply_chat_template(msgs),
            "<|bos|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: "
            "26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(tok.apply_chat_template(kUser, false),
            "<|bos|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: "
            "26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>");
}

TEST(ChatTemplate, Llama32DateIsToday) {
  const auto tok = with_template("bytelevel",
                                 "{%- if strftime_now is defined %}{%- set date_string = strftime_now(\"%d %b %Y\") "
                                 "%}{%- else %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}"
                                 "Cutting Knowledge Date: December 2023<|start_header_id|><|eot_id|>",
                                 "<|bos|>", "<|eos|>");
  char today[32];
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::strftime(today, sizeof today, "%d %b %Y", &local);
  EXPECT_NE(tok.apply_chat_template(kUser).find(std::string("Today Date: ") + today + "\n\n<|eot_id|>"),
            std::string::npos);
}

TEST(ChatTemplate, Qwen25DefaultSystem) {
  const auto tok = with_template(
      "bytelevel",
      "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + "
      "'<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
      "helpful assistant.<|im_end|>\\n' }}{%- endif %}",
      "<|bos|>", "<|eos|>");
  EXPECT_EQ(tok.chat_family(), "chatml");
  EXPECT_EQ(tok.apply_chat_template(kUser),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHi there <|im_end|>\n<|im_start|>assistant\n");
  const std::vector<ChatMessage> msgs{{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}};
  EXPECT_EQ(tok.apply_chat_template(msgs),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
            "<|im_start|>user\nV<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, Qwen3NoDefaultSystem) {
  const auto tok = with_template("bytelevel",
                                 "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + "
                                 "message.content + '<|im_end|>' + '\\n' }}{%- endfor %}",
                                 "<|bos|>", "<|eos|>");
  EXPECT_EQ(tok.apply_chat_template(kUser), "<|im_start|>user\nHi there <|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, MistralV1) {
  const auto tok = Tokenizer::load(tok_test::data("metaspace"));
  EXPECT_EQ(tok.chat_family(), "mistral");
  const std::vector<ChatMessage> msgs{{"user", "Hi"}, {"assistant", "Yo"}, {"user", "Ok"}};
  EXPECT_EQ(tok.apply_chat_template(msgs), "<s>[INST] Hi [/INST]Yo</s>[INST] Ok [/INST]");
  EXPECT_EQ(tok.encode(tok.apply_chat_template({{{"user", "hello"}}}), false).front(), 1);  // <s> is its id
  EXPECT_NE(tok_test::input_error([&] { tok.apply_chat_template({{{"system", "S"}, {"user", "U"}}}); })
                .find("no system role"),
            std::string::npos);
  EXPECT_NE(tok_test::input_error([&] { tok.apply_chat_template({{{"user", "U"}, {"user", "V"}}}); })
                .find("alternate user/assistant"),
            std::string::npos);
}

TEST(ChatTemplate, MistralV3SystemBeforeLastUser) {
  const auto tok = with_template("metaspace",
                                 "{{- bos_token }}{%- for message in loop_messages %}{{- \"[INST] \" + system_message + "
                                 "\"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}{%- endfor %}",
                                 "<s>", "</s>");
  const std::vector<ChatMessage> msgs{{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}};
  EXPECT_EQ(tok.apply_chat_template(msgs), "<s>[INST] U[/INST] A</s>[INST] S\n\nV[/INST]");
}

TEST(ChatTemplate, UnsupportedOrMissingTemplateSaysSo) {
  const auto gemma = with_template("bytelevel", "{% for m in messages %}<start_of_turn>{{ m.role }}\n{% endfor %}",
                                   "<|bos|>", "<|eos|>");
  EXPECT_FALSE(gemma.has_chat_template());
  const std::string e = tok_test::input_error([&] { gemma.apply_chat_template(kUser); });
  EXPECT_NE(e.find("tokenizer_config.json"), std::string::npos) << e;
  EXPECT_NE(e.find("no supported family"), std::string::npos) << e;
  const auto dir = tok_test::scratch("bytelevel");
  std::filesystem::remove(dir / "tokenizer_config.json");
  const std::string none = tok_test::input_error([&] { Tokenizer::load(dir).chat_family(); });
  EXPECT_NE(none.find("no chat template"), std::string::npos) << none;
  const auto tok = Tokenizer::load(tok_test::data("bytelevel"));
  EXPECT_NE(tok_test::input_error([&] { tok.apply_chat_template({{{"tool", "x"}}}); }).find("role 'tool'"),
            std::string::npos);
}

}  // namespace
}  // namespace plena::tokenizer
