# lme4's sleepstudy (balanced: 18 subjects x 10 days). Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
write.csv(sleepstudy, "input.csv", row.names = FALSE)
data <- read.csv("input.csv")
fit_all(list(
  list(name = "reml_correlated", formula_r = "Reaction ~ Days + (Days | Subject)",
       formula_py = "Reaction ~ Days + (Days | Subject)", reml = TRUE),
  list(name = "ml_correlated", formula_r = "Reaction ~ Days + (Days | Subject)",
       formula_py = "Reaction ~ Days + (Days | Subject)", reml = FALSE),
  list(name = "reml_uncorrelated", formula_r = "Reaction ~ Days + (Days || Subject)",
       formula_py = "Reaction ~ Days + (Days || Subject)", reml = TRUE),
  list(name = "ml_uncorrelated", formula_r = "Reaction ~ Days + (Days || Subject)",
       formula_py = "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", reml = FALSE),
  list(name = "reml_slope_only", formula_r = "Reaction ~ Days + (0 + Days | Subject)",
       formula_py = "Reaction ~ Days + (0 + Days | Subject)", reml = TRUE)
), data)
