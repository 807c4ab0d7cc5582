# Teams nested in orgs (8 orgs, 3..6 teams each, 4..14 rows per team; team
# labels repeat across orgs). input.csv comes from ../lmm_common/make_inputs.py.
# Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- read.csv("input.csv", stringsAsFactors = TRUE)
fit_all(list(
  list(name = "reml", formula_r = "y ~ x + (1 | org/team)", formula_py = "y ~ x + (1 | org/team)", reml = TRUE),
  list(name = "ml", formula_r = "y ~ x + (1 | org/team)", formula_py = "y ~ x + (1 | org/team)", reml = FALSE),
  list(name = "reml_slope", formula_r = "y ~ x + (1 + x | org) + (1 | org:team)",
       formula_py = "y ~ x + (1 + x | org) + (1 | org:team)", reml = TRUE)
), data)
