# lme4's InstEval, deterministic subset: every rating by the students s = 1..300
# (8,135 rows, 999 lecturers d, all 14 departments; the unused columns studage
# and lectage are dropped). Students and lecturers are crossed. service is a
# factor (levels 0, 1; treatment contrast service1).
# Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
sub <- droplevels(subset(lme4::InstEval, as.integer(as.character(s)) <= 300))[, c("s", "d", "service", "dept", "y")]
rownames(sub) <- NULL
data <- roundtrip_csv(sub)
fit_all_ext(list(
  list(name = "reml", formula_r = "y ~ service + (1 | s) + (1 | d)",
       formula_py = "y ~ C(service) + (1 | s) + (1 | d)", reml = TRUE)
), data, "lme4::InstEval, rows with s <= 300")
