// Built-in detection keywords, English and Chinese. Each entry is "<weight> <keyword>", entries
// separated by '|' (line breaks are not part of an entry; one string per list keeps the module
// small: thousands of separate string literals cost 20 header bytes each). The weight
// is added once per request when the keyword occurs in the examined user text (a weight around 3
// decides a task on its own, 1 is a hint that needs company). Latin keywords match whole words,
// ASCII case-insensitively; a trailing '*' matches any word that starts with the keyword, a
// leading '*' any word that ends with it; a negative weight counts against the task. Chinese
// keywords match anywhere. Structural signals (code-shaped text, number-heavy questions, mixed
// scripts, length) are computed in request/task_detect.ts, not listed here.
const CODING = `
3 python|3 javascript|3 typescript|2 java|3 golang|2 rust|3 c++|3 c#|
3 kotlin|1.5 swift|1.5 ruby|3 php|3 c语言|3 sql|2.5 mysql|2.5 postgres*|3 html|3 css|
2.5 bash|2.5 powershell|3 regex|3 regular expression|1 json|1 yaml|3 dockerfile|
2 docker|2.5 kubernetes|2 react|3 node.js|3 nodejs|2.5 django|2.5 pandas|
2.5 numpy|2 matlab|1.5 linux|2 git|2.5 github|2.5 leetcode|2 jquery|2 vue|
2.5 scala|2 haskell|2 perl|2 lua|3 verilog|2 assembly language|3 shell script|
2.5 webpack|2 npm|2.5 pip install|2 spark|2 tensorflow|2 pytorch|2.5 excel formula|
2.5 vba|2 latex|
1.5 code|2.5 coding|2 program|2 programming|2.5 programmer|1.5 script|2.5 debug*|
1.5 bug|1.5 bugs|2.5 compile*|2.5 stack trace|2.5 traceback|1.5 exception|2 stack overflow|2.5 segmentation fault|
2.5 syntax error|2.5 refactor*|1.5 algorithm|1.5 algorithms|1 implement|1 function|
1 functions|0.5 class|0.5 method|1.5 variable|1.5 variables|1.5 array|1 loop|
2 recursion|2 recursive|2 repository|2.5 unit test*|1 database|2 frontend|
2 backend|1.5 api|2 endpoint|2.5 source code|2.5 snippet|1.5 runtime|2 null pointer|
2.5 time complexity|2 big o|2 data structure*|2 linked list|2 binary tree|2 hash map|
2 hashmap|0.5 integer|1.5 boolean|1 string|1 parse|1.5 parser|2 interpreter|
2 sorting algorithm|1.5 implementation|1.5 software|1.5 developer|1 web app|1.5 command line|
1 terminal|1 server|1 deploy|1 framework|0.5 library|1 module|2 pseudocode|
1 query|1 queries|1.5 microservice*|2 system design|1.5 rate limit*|1 latency|
1 cache|1 caching|1.5 load balanc*|2 distributed system*|
3 代码|3 编程|2 程序|2 函数|2.5 报错|2.5 调试|2.5 编译|1.5 算法|1.5 数据库|
1.5 接口|2 变量|3 正则|2.5 脚本|2 前端|2 后端|2.5 爬虫|3 源码|3 源代码|
2 数组|2 字符串|2 链表|2 二叉树|2 递归|2 循环|1.5 运行|2 异常|2 语法|
2 单元测试|2 部署|1.5 服务器|2 框架|2.5 建表|2.5 语句|1.5 开发|2 编写一个|
1.5 实现一个|2 类型|1.5 参数|2 面向对象|2.5 sql语句|2 命令行|2 进制|1 二进制|1 十六进制|
1 排序|2.5 快速排序|2.5 排序算法|2.5 时间复杂度|2 数据结构|2 哈希|2 多线程|1.5 并发|
2.5 内存泄漏|2.5 空指针
`;

// Code-shaped tokens: they score `coding` and tell the complexity tier that code is present.
const CODE_SYNTAX = `
4 \`\`\`|3 def |3 #include|1 import |2 """|2 '''|2 >>> |2 <p>|1 =>|1.5 !=|1.5 ==|1.5 &&|
0.5 ->|1.5 ::|2 ();|2 ){|1.5 ) {|2 };|1 </|1 />|3 console.log|
2 print(|2 printf|3 public static|1.5 void |0.5 return |2 function(|1 for (|
1.5 for(|1.5 while (|1 if (|2 else {|2 self.|3 __init__|1.5 lambda|
3 select * from|3 std::|3 int main|2 const |3 elif |3 #!/|2 def(|2 });|
1.5 \${|2 <div|2 <?php|2 i++|2 += 1|1.5 null;|2 true;|2 false;|
1 .py|1 .js|1 .java|1 .cpp|1.5 .json|1 .html|1 .sql
`;

const MATH = `
2 solve|2.5 equation|2.5 equations|1.5 calculate|1.5 calculation|1 compute|
3 integral|2 integrate|3 derivative|2.5 differentiate|1 limit|2 matrix|
2.5 determinant|3 eigenvalue*|2.5 probability|1.5 statistics|2.5 algebra*|
2.5 geometry|2 triangle|1.5 circle|1.5 angle|1.5 area of|1.5 volume of|
2 perimeter|2.5 polynomial*|2 prime number*|1.5 sum of|1 average|1 percent*|
1.5 fraction*|2 square root|2.5 logarithm*|1.5 theorem|3 math|3 maths|
3 mathematics|2.5 mathematical|2.5 arithmetic|0.5 how many|2 modulo|2.5 congruent|
2 divisible|2 gcd|2 lcm|2.5 factorial|1 vector|2 variance|1.5 quadratic|
2 inequality|2 radius|2 diameter|2 hypotenuse|1.5 remainder|2 integers|
1.5 integer|2 real numbers|2 x^2|2 sin(|2 cos(|2 tan(|2 log(|3 \\frac|
3 \\int|3 \\sum|3 \\sqrt|2 =?|2 = ?|1.5 digits|2 multiply|1.5 divided by|
0.5 times|1.5 plus|1.5 minus|1 numbers|2 expected value|2 combinatori*|
2 permutation*|1.5 sequence|2 arithmetic sequence|2 geometric|2 slope|2 cube|
1.5 ratio|2 positive integer*|1.5 real number|2 function f|2 f(x)|1.5 km/h|1 mph|1 per hour|1 speed|1.5 interest rate|
1.5 how long will it take|1.5 how long would it take|1 how far|1 distance|1 years old|
1.5 twice as|1 per second|1 per minute|2 prime factor*|2 line segment|1 segment|1.5 endpoint*|
1.5 coordinates|1 plane|2 parabola|2 ellipse|2 hyperbola|1.5 vertex|1.5 vertices|
1 parallel|1.5 perpendicular|1 tangent|1.5 sphere|1.5 cylinder|1 cone|1.5 rectangle|
2 polygon|3 \\left|2 \\right|3 \\lim|3 \\mathbb|2 \\cdot|2 \\times|1 \\text{|
2 \\(|2 \\[|1.5 ^{|1 _{|
3 √|3 ∫|3 ∑|2 π|1.5 ≤|1.5 ≥|2 ±|2 ÷|1.5 ×|2 ²|2 ³|2 ∞|1.5 ≠|
1.5 计算|3 方程|2 求解|3 解方程|3 积分|3 导数|3 求导|2 微分|2.5 概率|2.5 几何|
2 三角形|1.5 面积|1.5 体积|2 周长|3 数学|2.5 多项式|2 质数|2 素数|1.5 分数|
1.5 百分之|2 平方根|1.5 平方|1.5 立方|2.5 等于多少|2.5 是多少|0.5 多少|
2 证明题|2 矩阵|1 向量|2 方差|1.5 平均数|3 应用题|3 鸡兔同笼|2 乘以|2 除以|
1.5 减去|1.5 加上|1 等于|2 数列|2 不等式|2 半径|2 直径|2 斜率|2 整数|
2 余数|1.5 公式|1.5 定理|2 勾股|1.5 一共|1.5 总共|0.5 利润|1.5 增长率|1.5 比例|2 阶乘|
2 排列组合|2 期望|1.5 函数f|1.5 x的|1.5 每小时|1.5 速度|2 相遇|1 千米|
1.5 倍|1.5 年龄|0.5 平均|2 浓度|2 同时出发|2 相向而行|2 环形跑道|1 利率|0.5 公里|0.5 小时
`;

// Quantity questions: they count for `math` only when the text also has at least two digits
// ("how many km…" with numbers is a word problem; "how many people live in…" is not).
const QUANTITY = `
1 how many|1 how much|1.5 what is the value|1 find the|1 calculate|1 how long|
1 what is the largest|1 what is the smallest|1.5 find the number|1 the number of|1 the sum|
1 the product|1 length of|
1 多少|1 几个|2 几岁|1.5 几人|1.5 几只|1 几瓶|1 几次|1 几点|1 几天|1 几分钟|
1 多少个|1 多少钱|1.5 多少米|2 多少千米|1.5 多少分钟|2 多少岁|1.5 共有几|1.5 各几|1 最多|1 最少|0.5 至少|1 有几|2 还剩几|2 还剩多少|2 剩下多少|1 一共
`;

const REASONING = `
3 riddle|3 riddles|3 puzzle|2.5 puzzles|2.5 logic|2.5 logical|1.5 reasoning|
2 deduce|1.5 infer|2.5 paradox|3 brain teaser|2.5 lateral thinking|1.5 true or false|
1 explain why|1.5 what would happen if|1 what if|2 counterfactual|1.5 estimate|
1.5 how many times|3 syllogism|2 premise|1.5 contradiction|3 who is lying|
3 knights and knaves|1 pattern|1.5 analyze|1.5 analyse|1.5 analysis|0.5 compare|
1.5 pros and cons|0.5 trade-off*|1 implications|1.5 hypothetical*|1.5 hypothesis|
1 entail*|1.5 follows that|1.5 valid argument|1 assume|1.5 which is true|
1.5 must be true|1.5 cannot be true|1.5 order of|1 sitting|1.5 in what order|
1.5 who is the|2 truth-teller|2 liar|1 clue*|1.5 therefore|2 must be false|
1.5 if true|2 weaken*|2 strengthen*|1.5 argument|1.5 assumption|1.5 conclu*|1.5 rebuttal|1 must be|
1 statement|1.5 inference|2 logically|1 valid|1.5 implies|1 turns left|1 turns right|
1 turn left|1 turn right|2 which direction|2 what direction|1 facing|1 your reasoning|
1 opposite|1 to the left of|1 to the right of|1 to her left|1 to his left|1 to her right|
1 to his right|
3 推理|3 逻辑|3 谜语|3 字谜|3 谜底|3 灯谜|1 猜|1 为什么|1 假如|1 假设|
1.5 分析|1 比较|1.5 利弊|1.5 优缺点|0.5 判断|2 真假|3 说真话|3 说假话|2 说谎|
3 悖论|1.5 论证|1.5 第几|1.5 谁是|2 排成一排|2 左边|2 右边|1.5 哪个正确|
2 由此可以推出|2 可以推出|1.5 结论|2 前提|1.5 脑筋急转弯|1.5 是怎么回事|
0.5 所以|1 因此|2 是否正确|2 正确吗|1.5 推出|2 规律|3 找规律|2 问号处|0.5 那么
`;

const WRITING = `
3 story|3 stories|3 poem|3 poems|3 poetry|3 haiku|3 limerick|3 essay|
2 article|3 blog post|2 blog|2.5 email|2.5 e-mail|2 a letter to|1.5 letter of|
3 cover letter|
2 speech|3 screenplay|2 novel|2 fiction|3 lyrics|2 song|3 slogan|2 tagline|
2 caption|2 tweet|2 advertisement|3 ad copy|3 product description|1.5 outline|
2 rewrite|2 paraphrase|2 proofread|1 polish|2 compose|2 draft|1.5 creative|
3 role-play|3 roleplay|3 role play|2 pretend|2 act as|2 imagine you are|
1 you are a|1 character|2 if you were a|1.5 what would you say|1.5 introduce yourself|
1.5 describe your|1 imagine|0.5 as a|2.5 *0 words|2 word essay|2 narrat*|1.5 dialogue|1 plot|1.5 toast|3 eulogy|
1 paragraph|3 thank you note|2 invitation|1.5 resume|2 headline|1.5 title for|
1.5 motivational|2 persuasive|2 in the style of|3 sonnet|2 joke|2 jokes|
1 funny|2 write a|2 write an|1.5 write me|0.5 write|2.5 compose a|1 words|
2 word count|1 description|0.5 describe|1 review|3 social media post|1 a post|
3 linkedin post|3 instagram post|1.5 newsletter|2 press release|1.5 proposal|
1.5 announcement|1.5 greeting|1 wish*|3 tell me a story|3 short story|3 bedtime story|
2 write about|2 rewrite this|1.5 improve this|2 make it sound|1 tone|2 catchy|
-2 who wrote|-1.5 the author of|-1.5 which novel|-1 which poem|1.5 in character|2 your role|2 you will be playing|1.5 monologue|
1 summary of your|2 fairy tale|2 fable|1.5 verse|1.5 rhyme*|1.5 chapter|
3 写一篇|3 写一首|2.5 写一段|3 写一封|2 写个|1 帮我写|0.5 写|3 作文|2 文章|
1.5 故事|3 讲一个故事|3 编一个故事|3 写一个故事|3 讲个故事|1 小说|2 一首诗|
3 写诗|3 作诗|1.5 诗歌|3 藏头诗|1 古诗|3 散文|3 撰写|2.5 写作|2.5 起草|2.5 草拟|3 新闻稿|
2 新闻报道|1.5 发表观点|2.5 教案|1.5 课件|2.5 *0字|2.5 千字|2.5 万字|2 百字|
2 纠正|1.5 改成|2 通顺|1.5 现在你是|2.5 邮件|3 书信|3 演讲稿|3 致辞|3 文案|
1 广告|3 广告语|3 广告词|1.5 标题|2.5 写一张|2 纸条|3 口号|3 剧本|2 台词|3 歌词|3 续写|3 扩写|2.5 改写|2.5 润色|
3 仿写|2 朋友圈|2 公众号|2 推文|3 扮演|3 角色扮演|2 假装|1 你是一个|2.5 口吻|
1 语气|1 开头|1 结尾|3 周报|1.5 报告|2 简历|3 祝福语|3 贺词|3 感谢信|
1.5 申请|1.5 通知|0.5 方案|1.5 策划|2.5 字以内|2.5 字左右|2 字的|1 篇|
2 大纲|2 段落|1 稿|2 征文|2 读后感|2 观后感|2 心得|2 日记|2 对联|
2 情书|2 检讨|2 请假条|2 说明书|0.5 介绍一下|1.5 描写|0.5 描述|1 评论|1 点评|
1.5 宣传|2 段子|2 笑话|2 童话|2 寓言|2 主持词|2 开场白|2 纠错|1.5 错别字|
1.5 修改|1.5 语病|2 造句|1 写出|1 写一个|2.5 写一份|1.5 如果你是|1.5 假设你是|
-2 作者是|-2 的作者|-1.5 出自|-1.5 哪一篇|-2 谁写的
`;

const TRANSLATION = `
4 translat*|3 into english|3 into chinese|3 into french|3 into spanish|
3 into german|3 into japanese|3 into korean|3 into russian|3 into italian|
3 into portuguese|3 into arabic|2 to english|2 to chinese|2 to french|2 to spanish|
2 to german|2 to japanese|1 in english|1.5 in chinese|1.5 in french|1.5 in spanish|
1.5 in german|1.5 in japanese|2 english to|2 chinese to|2 french to|2 spanish to|
2 german to|2 japanese to|3 how do you say|3 how to say|1.5 mandarin|1.5 pinyin|
2 localiz*|2 interpret this|1 meaning of the word|2 from english|2 from chinese|
4 翻译|4 译成|4 译为|4 翻成|4 英译中|4 中译英|4 英翻中|4 中翻英|4 英翻译中|
3 翻译成|1 英文|1 英语|1 中文|2 日语|2 日文|2 法语|2 德语|2 韩语|2 俄语|
2 西班牙语|2 用英文|2 用英语|4 英文怎么说|4 英语怎么说|1.5 怎么说|3 的英文|
1.5 文言文|2 白话文|0.5 拼音|2 译文|2 原文|1 什么意思|-1.5 用英文回答|
-1.5 用英语回答|-1.5 answer in english
`;

const SUMMARIZATION = `
4 summari*|3.5 summary|4 tl;dr|4 tldr|2.5 key points|2.5 main points|
2.5 main idea*|3 gist|3 condense|2 shorten|3 in a nutshell|2 brief overview|
3 recap|3 synopsis|2 in one sentence|2 in a few sentences|1.5 bullet points|
1 highlights|1 overview|2 boil down|3 sum up|2 key takeaways|2 takeaways|
1 abstract|1.5 briefly describe|0.5 the following article|0.5 the following text|
0.5 the above text|
4 总结|4 概括|4 摘要|3 归纳|3 要点|1.5 简述|2 概述|2.5 提炼|3 主要内容|
2.5 核心观点|3 中心思想|3 大意|1.5 一句话|2 缩写|2 精简|1 简要|3 梗概|
1 简短|1 简单介绍|0.5 以下内容|0.5 下面一段|0.5 下面这段|0.5 这篇文章|0.5 这段话
`;

const EXTRACTION = `
4 extract*|2 pull out|2 list all|2.5 identify all|2 find all|4 named entit*|
2.5 entities|2.5 keywords|2.5 key words|1.5 parse|1 structured|1 fill in the|
2 in json format|1 json|0.5 table|1.5 fields|2 information from|1.5 from the following text|
1.5 from the text|1.5 from this text|1.5 mentioned in|1 names of|1.5 phone number*|
1.5 email address*|1 identify the|1.5 which companies|1.5 which people|2 key phrases|
1 output the|1 output should be|1.5 return a list|1 in the text|
4 提取|4 抽取|3 抽出|2.5 找出|1.5 列出|2.5 识别出|1.5 识别|3 关键词|2.5 实体|
4 命名实体|4 信息抽取|2.5 哪些人名|1.5 人名|1.5 地名|2 结构化|1.5 字段|1 从以下|
1 从下面|1.5 文中|1.5 文本中|2 包含哪些|2 元素包括|2 个人信息
`;

const TIER_REASONING = `
3 step by step|3 step-by-step|3 think carefully|2.5 think through|3 reason through|
3 chain of thought|2.5 prove|2 proof|2.5 derive|2 derivation|2 rigorous*|
2 justify|3 show your work|3 explain your reasoning|2 explain your answer|
3 let's think|3 formal proof|1.5 deduce|2 reasoning steps|2 first principles|
3 一步一步|3 逐步|2.5 分步|3 详细推导|2.5 推导|2.5 证明|1.5 严格|3 思考过程|
3 推理过程|2.5 解题过程|1.5 详细解释|2.5 说明理由|2 给出理由|2 请先给出|2 一步步
`;

const TIER_COMPLEX = `
1.5 architecture|1.5 distributed|1.5 scalab*|1 optimiz*|1 performance|
1.5 concurren*|1.5 design a|2 system design|1 trade-off*|1.5 comprehensive|
1.5 in detail|1 detailed|1 thorough*|0.5 multiple|1 requirements|1 constraints|
0.5 first,|0.5 finally|1 step 1|1.5 compare and contrast|1 end-to-end|
1 production|0.5 security|1 machine learning|1 neural network|1.5 microservice*|
1.5 database schema|1 algorithm|1 implement|1 at least|1 must|1 ensure|
1 edge cases|1 efficient*|1 complexity|
1.5 架构|1.5 分布式|2 高并发|1 优化|1 性能|1.5 设计一个|2 系统设计|1.5 详细|
1.5 全面|1.5 深入|1 完整|0.5 多个|0.5 要求|0.5 首先|0.5 最后|1 方案|
1 机器学习|1 神经网络|1.5 微服务|1 至少|1 必须|1 确保
`;

const TIER_SIMPLE = `
2 hi|2 hello|2 hey|2 thanks|2 thank you|2 good morning|2 good night|
2 how are you|1 what is|1 what's|1.5 who is|1.5 who was|1.5 when was|
1.5 when did|1.5 where is|1.5 define|1.5 definition of|1 meaning of|2 capital of|
1 how old|1 ok|1 okay|1.5 tell me a joke|
2 你好|2 您好|2 谢谢|2 早上好|2 晚安|2 在吗|1 是什么|1 什么是|1.5 是谁|
1.5 谁是|1 哪里|1 在哪|1.5 哪一年|1 什么时候|2 首都|1 好的|2 嗨|1 哈哈
`;

// The built-in lists by signal number (config/tasks.ts): the seven tasks, the complexity markers
// (reasoning, complex, simple), code syntax, quantity questions.
export const BUILTIN_RULES: string[] = [
  CODING, MATH, REASONING, WRITING, TRANSLATION, SUMMARIZATION, EXTRACTION,
  TIER_REASONING, TIER_COMPLEX, TIER_SIMPLE, CODE_SYNTAX, QUANTITY,
];
