# Random intercept only: 25 teams x 12 rows. input.csv comes from
# ../lmm_common/make_inputs.py. Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- read.csv("input.csv")
data$team <- factor(data$team)
fit_all(list(
  list(name = "reml", formula_r = "y ~ x + (1 | team)", formula_py = "y ~ x + (1 | team)", reml = TRUE),
  list(name = "ml", formula_r = "y ~ x + (1 | team)", formula_py = "y ~ x + (1 | team)", reml = FALSE),
  list(name = "reml_no_intercept", formula_r = "y ~ 0 + x + (1 | team)",
       formula_py = "y ~ 0 + x + (1 | team)", reml = TRUE)
), data)
