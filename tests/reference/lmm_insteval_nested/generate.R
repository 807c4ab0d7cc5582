# lme4's InstEval, the same subset as ../lmm_insteval_crossed (s = 1..300).
# Every lecturer d belongs to exactly one department dept (true in the full
# data too), so lecturers nest in departments: (1 | dept/d), i.e. dept and
# d:dept. (The reverse, d/dept, would repeat d and is not identifiable.)
# Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
sub <- droplevels(subset(lme4::InstEval, as.integer(as.character(s)) <= 300))[, c("s", "d", "service", "dept", "y")]
rownames(sub) <- NULL
data <- roundtrip_csv(sub)
stopifnot(all(tapply(data$dept, data$d, function(x) length(unique(x))) == 1))
fit_all_ext(list(
  list(name = "reml", formula_r = "y ~ 1 + (1 | dept/d)",
       formula_py = "y ~ 1 + (1 | dept/d)", reml = TRUE)
), data, "lme4::InstEval, rows with s <= 300")
