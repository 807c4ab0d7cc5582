# Writes the two inputs of this case from the datasets R's plm package ships
# (Debian r-cran-plm): Grunfeld (10 firms x 20 years) and EmplUK (140 firms, 1976-1984, unbalanced).
# Run from this folder: Rscript inputs.R
suppressPackageStartupMessages(library(plm))
data("Grunfeld", package = "plm")
write.csv(Grunfeld[, c("firm", "year", "inv", "value", "capital")], "grunfeld.csv", row.names = FALSE)
data("EmplUK", package = "plm")
write.csv(data.frame(firm = EmplUK$firm, year = EmplUK$year, sector = EmplUK$sector, n = log(EmplUK$emp),
                     w = log(EmplUK$wage), k = log(EmplUK$capital)), "emplUK.csv", row.names = FALSE)
